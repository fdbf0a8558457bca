/* ticketctl events (events_cmd.c). */
#ifndef TICKETCTL_EVENTS_CMD_H
#define TICKETCTL_EVENTS_CMD_H

int ticketctl_events(int argc, char **argv);

#endif
