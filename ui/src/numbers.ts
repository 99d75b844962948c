// Counts shown to the administrator, grouped by thousands in their locale.
//
// Under the C or POSIX locale (LANG=C.UTF-8, usual on servers, minimal VMs and CI) WebKit
// resolves `en-US-u-va-posix`, which groups no digits: "100000 backups" reads badly. There the
// counts are grouped as in en-US; everywhere else the administrator's own locale decides.

/** The locale to format counts in, given the one the runtime resolved by default. */
export function countLocale(resolved: string): string | undefined {
  return /-u-va-posix$|^(c|posix)$/i.test(resolved) ? "en-US" : undefined;
}

const FORMAT = new Intl.NumberFormat(countLocale(new Intl.NumberFormat().resolvedOptions().locale));

/** `n` with its thousands grouped: 100,000 (or 100 000, 100.000, as the locale has it). */
export function num(n: number): string {
  return FORMAT.format(n);
}

/** "1 backup", "100,000 backups": `n` and the noun that goes with it. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}
