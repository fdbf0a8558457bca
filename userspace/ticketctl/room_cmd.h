/* ticketctl room (room_cmd.c): an event's waiting room through ticketd's
 * admin endpoints. */
#ifndef TICKETCTL_ROOM_CMD_H
#define TICKETCTL_ROOM_CMD_H

/* argv[0] is "room"; returns the exit status. */
int ticketctl_room(int argc, char **argv);

#endif
