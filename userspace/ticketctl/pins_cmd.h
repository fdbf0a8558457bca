/* ticketctl pins (pins_cmd.c). */
#ifndef TICKETCTL_PINS_CMD_H
#define TICKETCTL_PINS_CMD_H

int ticketctl_pins(int argc, char **argv);

#endif
