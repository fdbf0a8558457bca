const fmt = new Intl.DateTimeFormat('en-IE', {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
  timeZoneName: 'short',
});

/** An event's start time for people; the contract's times are UTC. */
export function formatEventDate(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : fmt.format(t);
}
