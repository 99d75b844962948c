// How the notification center says when something happened: relative for scanning, absolute for
// the record.

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "3 minutes ago", "yesterday", ... in the system's language; "just now" under a minute. */
export function relativeTime(at: Date, now: number, locale?: string): string {
  const seconds = Math.round((at.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  if (abs < 45 * MINUTE) return rtf.format(Math.round(seconds / MINUTE), "minute");
  if (abs < 22 * HOUR) return rtf.format(Math.round(seconds / HOUR), "hour");
  if (abs < 26 * DAY) return rtf.format(Math.round(seconds / DAY), "day");
  if (abs < 320 * DAY) return rtf.format(Math.round(seconds / (30 * DAY)), "month");
  return rtf.format(Math.round(seconds / (365 * DAY)), "year");
}

export function absoluteTime(at: Date, locale?: string): string {
  return at.toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" });
}
