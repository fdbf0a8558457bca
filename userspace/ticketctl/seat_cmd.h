/* ticketctl seat (seat_cmd.c): one seat word from the pinned maps. */
#ifndef TICKETCTL_SEAT_CMD_H
#define TICKETCTL_SEAT_CMD_H

/* argv[0] is "seat"; returns the exit status. */
int ticketctl_seat(int argc, char **argv);

#endif
