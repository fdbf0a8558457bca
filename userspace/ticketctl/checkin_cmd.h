/* ticketctl checkin (checkin_cmd.c). */
#ifndef TICKETCTL_CHECKIN_CMD_H
#define TICKETCTL_CHECKIN_CMD_H

int ticketctl_checkin(int argc, char **argv);

#endif
