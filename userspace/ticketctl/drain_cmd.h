/* ticketctl drain (drain_cmd.c). */
#ifndef TICKETCTL_DRAIN_CMD_H
#define TICKETCTL_DRAIN_CMD_H

int ticketctl_drain(int argc, char **argv);

#endif
