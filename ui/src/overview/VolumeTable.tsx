// The Volumes table: every row of `volume_overview`, sorted and searched in memory, with only the
// rows in view in the DOM (5,000 volumes stay one frame away from each keystroke and scroll).

import { Table, UnstyledButton } from "@mantine/core";
import { IconArrowsSort, IconSortAscending, IconSortDescending } from "@tabler/icons-react";
import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { memo, useLayoutEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from "react";

import type { VolumeRow } from "../bindings";
import "./VolumeTable.css";
import { KIND, PROTECTION, REPLICA, ago, ageAt, bytes, status } from "./words";

export type SortKey = "name" | "owner" | "size" | "status" | "free" | "backup" | "replica" | "protection";
export type Sort = { key: SortKey; desc: boolean };

/** Row height in pixels: fixed, so that the virtualiser never measures (two lines per cell). */
const ROW = 54;
/** The sticky header's height, before the first row. */
const HEAD = 40;

const COLUMNS: { key: SortKey; label: string; width: string }[] = [
  { key: "name", label: "Name", width: "19%" },
  { key: "owner", label: "Owner", width: "13%" },
  { key: "size", label: "Size", width: "7%" },
  { key: "status", label: "Status", width: "10%" },
  { key: "free", label: "Free space", width: "12%" },
  { key: "backup", label: "Last backup", width: "14%" },
  { key: "replica", label: "Replica", width: "12%" },
  { key: "protection", label: "Protection", width: "13%" },
];

const PROTECTION_RANK = { no_backup: 0, no_dr: 1, protected: 2, not_protected: 3 } as const;
const REPLICA_RANK = { failed: 1, creating: 2, replicating: 3, available: 4 } as const;

type Keyed = { row: VolumeRow; name: string; keys: Record<SortKey, string | number> };

/**
 * A text's sort key: lower case, each run of digits padded to 12 so that "desk-2" sorts before
 * "desk-10". Compared with `<`, which over 15,000 rows is about ten times faster than
 * `Intl.Collator.compare` (measured 8 against 74 ms); for the ASCII names Frame gives volumes the
 * order is the collator's (numeric, case-insensitive).
 */
export function textKey(s: string): string {
  return s.toLowerCase().replace(/\d+/g, (d) => d.padStart(12, "0"));
}

function keyed(row: VolumeRow): Keyed {
  const free = row.free_space?.state === "known" ? (row.free_space.free_bytes ?? -1) : -1;
  const backup = row.last_backup ? Date.parse(row.last_backup.created_at) : -Infinity;
  const replica = row.replica
    ? REPLICA_RANK[row.replica.state] * 1000 + (row.replica.state === "replicating" ? (row.replica.percent ?? 0) : 0)
    : 0;
  return {
    row,
    name: row.name.toLowerCase(),
    keys: {
      name: textKey(row.name),
      owner: textKey(row.owner ?? ""),
      size: row.size_bytes ?? -1,
      status: textKey(status(row.desktop_state, row.power, row.power_detail)),
      free,
      backup,
      replica,
      protection: PROTECTION_RANK[row.protection.state],
    },
  };
}

function compare(x: string | number, y: string | number): number {
  return x === y ? 0 : x < y ? -1 : 1;
}

/** Sorted once per sort change; the search then only filters the sorted list. */
export function useSortedRows(rows: VolumeRow[], sort: Sort): Keyed[] {
  const all = useMemo(() => rows.map(keyed), [rows]);
  return useMemo(() => {
    const out = all.slice();
    const k = sort.key;
    out.sort((a, b) => {
      let c = compare(a.keys[k], b.keys[k]);
      if (c === 0 && k !== "name") c = compare(a.keys.name, b.keys.name);
      return sort.desc ? -c : c;
    });
    return out;
  }, [all, sort]);
}

export function filterByName(sorted: Keyed[], search: string): Keyed[] {
  const needle = search.trim().toLowerCase();
  return needle ? sorted.filter((r) => r.name.includes(needle)) : sorted;
}

export function VolumeTable(props: { rows: Keyed[]; total: number; sort: Sort; onSort: (s: Sort) => void; now: number }) {
  // The rows scroll with the window, not in a box of their own: WebKitGTK gives an overflow
  // scroller its own composited layer, and without a GPU (llvmpipe) every change inside one cost a
  // frame of 130 to 150 ms, and its first seconds on screen 4 s of both cores (docs/console.md,
  // "Drawing without a GPU"). In the window's own scroll the same change is painted in one frame.
  const table = useRef<HTMLTableElement>(null);
  const margin = useDocumentTop(table);
  const virtual = useWindowVirtualizer({
    count: props.rows.length,
    estimateSize: () => ROW,
    // A volume keeps its row element across keystrokes and sorts, so the memoised row is reused.
    getItemKey: (i) => props.rows[i]?.row.volume_id ?? i,
    paddingStart: HEAD,
    scrollMargin: margin,
    overscan: 5,
  });
  const items = virtual.getVirtualItems();
  const first = items[0];
  const last = items[items.length - 1];
  const top = first ? first.start - margin - HEAD : 0;
  const bottom = last ? virtual.getTotalSize() - (last.end - margin) : 0;

  return (
    <div
      data-testid="volumes-scroll"
      style={{
        border: "1px solid var(--mantine-color-default-border)",
        borderRadius: "var(--mantine-radius-md)",
      }}
    >
      <Table
        ref={table}
        stickyHeader
        stickyHeaderOffset="var(--app-shell-header-offset, 0px)"
        highlightOnHover
        verticalSpacing={0}
        data-testid="volumes-table"
        aria-rowcount={props.total + 1}
        style={{ tableLayout: "fixed", minWidth: 940 }}
      >
        <Head sort={props.sort} onSort={props.onSort} />
        <Table.Tbody>
          {top > 0 && (
            <tr aria-hidden style={{ height: top }}>
              <td colSpan={COLUMNS.length} style={{ padding: 0, border: 0 }} />
            </tr>
          )}
          {items.map((item) => {
            const r = props.rows[item.index];
            return r && <Row key={item.key} row={r.row} index={item.index} now={props.now} />;
          })}
          {bottom > 0 && (
            <tr aria-hidden style={{ height: bottom }}>
              <td colSpan={COLUMNS.length} style={{ padding: 0, border: 0 }} />
            </tr>
          )}
        </Table.Tbody>
      </Table>
    </div>
  );
}

/** Where `el` begins in the document, kept current as what is above it grows or shrinks. */
function useDocumentTop(el: RefObject<HTMLElement | null>): number {
  const [top, setTop] = useState(0);
  useLayoutEffect(() => {
    const node = el.current;
    if (!node) return;
    const measure = () => setTop(Math.round(node.getBoundingClientRect().top + window.scrollY));
    measure();
    // What sits above the table (an alert, the toolbar wrapping) moves it; the body's size changes then.
    const seen = new ResizeObserver(measure);
    seen.observe(document.body);
    return () => seen.disconnect();
  }, [el]);
  return top;
}

/** The sortable column headers: memoised, a keystroke does not change them. */
const Head = memo(function Head(props: { sort: Sort; onSort: (s: Sort) => void }) {
  const header = (c: (typeof COLUMNS)[number]) => {
    const active = props.sort.key === c.key;
    const Icon = !active ? IconArrowsSort : props.sort.desc ? IconSortDescending : IconSortAscending;
    return (
      <Table.Th key={c.key} w={c.width} h={HEAD} style={{ whiteSpace: "nowrap" }} aria-sort={active ? (props.sort.desc ? "descending" : "ascending") : "none"}>
        <UnstyledButton
          onClick={() => props.onSort({ key: c.key, desc: active ? !props.sort.desc : false })}
          aria-label={`Sort by ${c.label}`}
          style={{ display: "inline-flex", alignItems: "center", gap: 4, fontWeight: 600, fontSize: "var(--mantine-font-size-sm)" }}
        >
          {c.label} <Icon size={14} aria-hidden />
        </UnstyledButton>
      </Table.Th>
    );
  };
  return (
    <Table.Thead style={{ zIndex: 2, boxShadow: "0 1px 0 var(--mantine-color-default-border)" }}>
      <Table.Tr aria-rowindex={1}>{COLUMNS.map(header)}</Table.Tr>
    </Table.Thead>
  );
});

// One formatter for every row: `Date.toLocaleString` builds a new one per call, which for the two
// dozen rows a keystroke brings into view was a measurable part of the keystroke.
const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Two lines: what to read first, then its detail in a smaller line (full text on hover). */
function Two(props: { main: ReactNode; sub?: string | null; subTone?: "warn"; title?: string }) {
  return (
    <>
      <div className="vt-main" title={props.title}>
        {props.main}
      </div>
      {props.sub && (
        <div className={props.subTone === "warn" ? "vt-sub vt-warn" : "vt-sub"} title={props.sub}>
          {props.sub}
        </div>
      )}
    </>
  );
}

function Tag(props: { color: string; outline?: boolean; title?: string; children: ReactNode }) {
  const c = props.color;
  const style = props.outline
    ? { color: `var(--mantine-color-${c}-outline)`, border: `1px solid var(--mantine-color-${c}-outline)` }
    : { color: `var(--mantine-color-${c}-light-color)`, background: `var(--mantine-color-${c}-light)` };
  return (
    <span className="vt-tag" style={style} title={props.title}>
      {props.children}
    </span>
  );
}

/**
 * One volume. Plain elements styled by VolumeTable.css rather than Mantine components: a
 * keystroke in the search brings about two dozen new rows into view, and at some thirty Mantine
 * components a row (each resolving its theme props and styles) that alone took about 20 ms per
 * key on the benchmark's machine. Memoised, so rows that stay in view are not rendered again.
 */
const Row = memo(function Row(props: { row: VolumeRow; index: number; now: number }) {
  const r = props.row;
  const protection = PROTECTION[r.protection.state];
  const free = r.free_space;
  return (
    <tr className="vt-row" data-testid="volume-row" data-volume={r.name} aria-rowindex={props.index + 2}>
      <td>
        <Two main={<b>{r.name}</b>} title={r.name} sub={`${KIND[r.kind]} · ${r.frame_account}`} />
      </td>
      <td>
        <Two main={r.owner ?? "—"} title={r.owner ?? undefined} sub={r.location} />
      </td>
      <td>
        <div className="vt-main">{bytes(r.size_bytes)}</div>
      </td>
      <td>
        <Two main={desktop(r)} sub={r.desktop_state ? power(r) : null} />
      </td>
      <td data-testid="free-space">
        {free?.state === "known" ? (
          <Two
            main={`${bytes(free.free_bytes)} free`}
            title={`Reported by ${free.source}`}
            sub={r.size_bytes && free.free_bytes !== null ? `${Math.round((free.free_bytes / r.size_bytes) * 100)}% of ${bytes(r.size_bytes)}` : null}
          />
        ) : free?.state === "unknown" ? (
          <Two main="Unknown" sub={free.why} subTone="warn" />
        ) : (
          <Two main="Not read" />
        )}
      </td>
      <td>
        {r.last_backup ? (
          <Two main={ago(ageAt(r.last_backup.created_at, props.now))} title={WHEN.format(Date.parse(r.last_backup.created_at))} sub={r.last_backup.name} />
        ) : r.kind === "template_image" ? (
          <Two main="—" />
        ) : (
          <Two main={<span className="vt-bad">Never</span>} sub="no usable backup" />
        )}
      </td>
      <td>
        <Replica row={r} now={props.now} />
      </td>
      <td>
        <div className="vt-tags">
          <Tag color={protection.color} title={r.protection.reason ?? undefined}>
            {protection.label}
          </Tag>
          {r.autogrow.pending ? (
            <Tag color="orange" title={r.autogrow.pending.why}>
              Grow pending
            </Tag>
          ) : (
            r.autogrow.enabled && (
              <Tag color="blue" outline title="Autogrow is on for this volume">
                Autogrow
              </Tag>
            )
          )}
        </div>
      </td>
    </tr>
  );
});

function desktop(r: VolumeRow): string {
  const d = r.desktop_state;
  return d === "assigned" ? "Assigned" : d === "unassigned" ? "Unassigned" : d === "shadow" ? "Shadow" : power(r) || "—";
}

/** The VM's power, under the desktop state (or in its place when the volume has none). */
function power(r: VolumeRow): string {
  if (r.power === "on") return "running";
  if (r.power === "off") return "off";
  return r.power_detail ?? "";
}

function Replica(props: { row: VolumeRow; now: number }) {
  const x = props.row.replica;
  if (!x) return <Two main={<span className="vt-dim">None</span>} />;
  if (x.state === "replicating") {
    const pct = Math.round(x.percent ?? 0);
    return (
      <>
        <div className="vt-main">Replicating {pct}%</div>
        <div className="vt-bar" role="progressbar" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label={`Replica of ${props.row.name}: ${pct}% copied`}>
          <div style={{ width: `${pct}%` }} />
        </div>
      </>
    );
  }
  if (x.state === "failed") return <Two main={<span className="vt-bad">Failed</span>} sub={ago(ageAt(x.created_at, props.now))} />;
  return <Two main={REPLICA[x.state]} sub={ago(ageAt(x.created_at, props.now))} />;
}
