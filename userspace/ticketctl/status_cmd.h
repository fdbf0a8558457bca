/* ticketctl status (status_cmd.c). */
#ifndef TICKETCTL_STATUS_CMD_H
#define TICKETCTL_STATUS_CMD_H

int ticketctl_status(int argc, char **argv);

#endif
