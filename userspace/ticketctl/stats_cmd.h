/* ticketctl stats (stats_cmd.c): the edge's counters and map fill from the
 * pinned maps. */
#ifndef TICKETCTL_STATS_CMD_H
#define TICKETCTL_STATS_CMD_H

/* argv[0] is "stats"; returns the exit status. */
int ticketctl_stats(int argc, char **argv);

#endif
