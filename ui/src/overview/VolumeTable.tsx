// The Volumes table: every row of `volume_overview`, sorted and searched in memory, with only the
// rows in view in the DOM (5,000 volumes stay one frame away from each keystroke and scroll).

import { Badge, Progress, Stack, Table, Text, UnstyledButton } from "@mantine/core";
import { IconArrowsSort, IconSortAscending, IconSortDescending } from "@tabler/icons-react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, type ReactNode } from "react";

import type { VolumeRow } from "../bindings";
import { KIND, PROTECTION, REPLICA, ago, ageAt, bytes, status } from "./words";

export type SortKey = "name" | "owner" | "size" | "status" | "free" | "backup" | "replica" | "protection";
export type Sort = { key: SortKey; desc: boolean };

/** Row height in pixels: fixed, so that the virtualiser never measures (two lines per cell). */
const ROW = 54;
/** The sticky header's height, before the first row in the scroll container. */
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

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

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
      name: row.name,
      owner: row.owner ?? "",
      size: row.size_bytes ?? -1,
      status: status(row.desktop_state, row.power, row.power_detail),
      free,
      backup,
      replica,
      protection: PROTECTION_RANK[row.protection.state],
    },
  };
}

/** Sorted once per sort change; the search then only filters the sorted list. */
export function useSortedRows(rows: VolumeRow[], sort: Sort): Keyed[] {
  const all = useMemo(() => rows.map(keyed), [rows]);
  return useMemo(() => {
    const out = all.slice();
    const k = sort.key;
    out.sort((a, b) => {
      const x = a.keys[k];
      const y = b.keys[k];
      let c = typeof x === "number" && typeof y === "number" ? (x === y ? 0 : x < y ? -1 : 1) : collator.compare(String(x), String(y));
      if (c === 0 && k !== "name") c = collator.compare(a.row.name, b.row.name);
      return sort.desc ? -c : c;
    });
    return out;
  }, [all, sort]);
}

export function filterByName(sorted: Keyed[], search: string): Keyed[] {
  const needle = search.trim().toLowerCase();
  return needle ? sorted.filter((r) => r.name.includes(needle)) : sorted;
}

export function VolumeTable(props: { rows: Keyed[]; total: number; sort: Sort; onSort: (s: Sort) => void; now: number; stale?: boolean }) {
  const scroller = useRef<HTMLDivElement>(null);
  // TanStack Virtual keeps its state outside React; the compiler is told not to memoise around it.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtual = useVirtualizer({
    count: props.rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    paddingStart: HEAD,
    overscan: 8,
  });
  const items = virtual.getVirtualItems();
  const first = items[0];
  const last = items[items.length - 1];
  const top = first ? first.start - HEAD : 0;
  const bottom = last ? virtual.getTotalSize() - last.end : 0;

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
    <div
      ref={scroller}
      data-testid="volumes-scroll"
      tabIndex={0}
      aria-label="Volumes table, scrollable"
      style={{
        height: "max(360px, calc(100vh - 360px))",
        overflow: "auto",
        border: "1px solid var(--mantine-color-default-border)",
        borderRadius: "var(--mantine-radius-md)",
        opacity: props.stale ? 0.7 : 1,
      }}
    >
      <Table
        stickyHeader
        highlightOnHover
        verticalSpacing={0}
        data-testid="volumes-table"
        aria-rowcount={props.total + 1}
        style={{ tableLayout: "fixed", minWidth: 940 }}
      >
        <Table.Thead style={{ zIndex: 2, boxShadow: "0 1px 0 var(--mantine-color-default-border)" }}>
          <Table.Tr aria-rowindex={1}>{COLUMNS.map(header)}</Table.Tr>
        </Table.Thead>
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

const cell = { height: ROW, overflow: "hidden", whiteSpace: "nowrap", textOverflow: "ellipsis" } as const;

/** Two lines: what to read first, then its detail in a smaller, dimmed line (full text on hover). */
function Two(props: { main: ReactNode; sub?: string | null; subColor?: string; title?: string }) {
  return (
    <>
      <Text size="sm" truncate="end" title={props.title}>
        {props.main}
      </Text>
      {props.sub && (
        <Text size="xs" c={props.subColor ?? "dimmed"} truncate="end" title={props.sub}>
          {props.sub}
        </Text>
      )}
    </>
  );
}

function Row(props: { row: VolumeRow; index: number; now: number }) {
  const r = props.row;
  const protection = PROTECTION[r.protection.state];
  const free = r.free_space;
  return (
    <Table.Tr data-testid="volume-row" data-volume={r.name} aria-rowindex={props.index + 2} style={{ height: ROW }}>
      <Table.Td style={cell}>
        <Two main={<b>{r.name}</b>} title={r.name} sub={`${KIND[r.kind]} · ${r.frame_account}`} />
      </Table.Td>
      <Table.Td style={cell}>
        <Two main={r.owner ?? "—"} title={r.owner ?? undefined} sub={r.location} />
      </Table.Td>
      <Table.Td style={cell}>
        <Text size="sm">{bytes(r.size_bytes)}</Text>
      </Table.Td>
      <Table.Td style={cell}>
        <Two main={desktop(r)} sub={r.desktop_state ? power(r) : null} />
      </Table.Td>
      <Table.Td style={cell} data-testid="free-space">
        {free?.state === "known" ? (
          <Two
            main={`${bytes(free.free_bytes)} free`}
            title={`Reported by ${free.source}`}
            sub={r.size_bytes && free.free_bytes !== null ? `${Math.round((free.free_bytes / r.size_bytes) * 100)}% of ${bytes(r.size_bytes)}` : null}
          />
        ) : free?.state === "unknown" ? (
          <Two main="Unknown" sub={free.why} subColor="orange" />
        ) : (
          <Two main="Not read" />
        )}
      </Table.Td>
      <Table.Td style={cell}>
        {r.last_backup ? (
          <Two main={ago(ageAt(r.last_backup.created_at, props.now))} title={new Date(r.last_backup.created_at).toLocaleString()} sub={r.last_backup.name} />
        ) : r.kind === "template_image" ? (
          <Two main="—" />
        ) : (
          <Two main={<Text span size="sm" c="red">Never</Text>} sub="no usable backup" />
        )}
      </Table.Td>
      <Table.Td style={cell}>
        <Replica row={r} now={props.now} />
      </Table.Td>
      <Table.Td style={cell}>
        <Stack gap={4} align="flex-start">
          <Badge size="sm" variant="light" color={protection.color} tt="none" title={r.protection.reason ?? undefined}>
            {protection.label}
          </Badge>
          {r.autogrow.pending ? (
            <Badge size="sm" variant="light" color="orange" tt="none" title={r.autogrow.pending.why}>
              Grow pending
            </Badge>
          ) : (
            r.autogrow.enabled && (
              <Badge size="sm" variant="outline" color="blue" tt="none" title="Autogrow is on for this volume">
                Autogrow
              </Badge>
            )
          )}
        </Stack>
      </Table.Td>
    </Table.Tr>
  );
}

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
  if (!x) return <Two main={<Text span size="sm" c="dimmed">None</Text>} />;
  if (x.state === "replicating") {
    const pct = Math.round(x.percent ?? 0);
    return (
      <>
        <Text size="sm">Replicating {pct}%</Text>
        <Progress value={pct} size="xs" mt={4} aria-label={`Replica of ${props.row.name}: ${pct}% copied`} />
      </>
    );
  }
  if (x.state === "failed") return <Two main={<Text span size="sm" c="red">Failed</Text>} sub={ago(ageAt(x.created_at, props.now))} />;
  return <Two main={REPLICA[x.state]} sub={ago(ageAt(x.created_at, props.now))} />;
}
