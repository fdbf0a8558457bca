/* ticketctl shards (shards_cmd.c). */
#ifndef TICKETCTL_SHARDS_CMD_H
#define TICKETCTL_SHARDS_CMD_H

int ticketctl_shards(int argc, char **argv);

#endif
