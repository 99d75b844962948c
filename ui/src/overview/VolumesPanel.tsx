// The Volumes tab's data and table: `volume_overview` for a cloud account (one Frame account or
// all of them), *Refresh from the provider* (`discover_resources`, which updates the catalog's
// discovery cache, then the overview again), and the searchable, sortable, virtualised table.

import { Alert, Group, Loader, Stack, Text, TextInput } from "@mantine/core";
import { IconDatabaseOff, IconInfoCircle, IconSearch } from "@tabler/icons-react";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { commands, type ApiError, type VolumeOverview } from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { VolumeTable, filterByName, useSortedRows, type Sort } from "./VolumeTable";
import { num } from "../numbers";

export type OverviewState = {
  data: VolumeOverview | null;
  /** When `data` was read (ms): the ages in the table are measured from it. */
  at: number;
  loading: boolean;
  error: ApiError | null;
  refreshing: boolean;
  /** A discovery that failed, with the Frame account it was for. */
  discoverError: { frame: string; error: ApiError } | null;
  reload: () => void;
  /** Discovers each Frame account at the provider, then reads the overview again. */
  refresh: (frames: string[]) => Promise<void>;
};

/** The last overview read, for one account and Frame account. */
type Remembered = { key: string; overview: VolumeOverview; at: number };

// The window remembers the last answer so that coming back to the Volumes page shows its rows at
// once (15,000 rows take about 0.3 s to read and parse) while a fresh answer is read: the
// "Updating" loader says so, and the ages stay measured from when the engine read the rows. Only
// one answer is kept (a large account's weighs a few megabytes). Without the provider (component
// tests) nothing is remembered.
const OverviewMemory = createContext<{ last: Remembered | null } | null>(null);

export function OverviewMemoryProvider(props: { children: ReactNode }) {
  const [memory] = useState<{ last: Remembered | null }>(() => ({ last: null }));
  return <OverviewMemory.Provider value={memory}>{props.children}</OverviewMemory.Provider>;
}

/** `frame`: null while the Frame account is not decided yet (nothing is read), "" for all of them. */
export function useVolumeOverview(accountId: string | null, frame: string | null): OverviewState {
  const memory = useContext(OverviewMemory);
  // The last answer: `req` names the request (account, Frame account, generation) it answers, so
  // that loading is "the answer is not for the current request" and no effect sets state up front.
  const [result, setResult] = useState<{ req: string; key: string; overview: VolumeOverview | null; error: ApiError | null; at: number }>({
    req: "",
    key: "",
    overview: null,
    error: null,
    at: 0,
  });
  const [refreshing, setRefreshing] = useState(false);
  const [discoverError, setDiscoverError] = useState<OverviewState["discoverError"]>(null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const key = `${accountId ?? ""}\u0000${frame ?? ""}`;
  const req = `${key}#${generation}`;
  const enabled = !!accountId && frame !== null;

  useEffect(() => {
    if (!accountId || frame === null) return;
    let live = true;
    commands
      .volumeOverview(accountId, frame || null)
      .catch((e: unknown) => ({ status: "error" as const, error: toApiError(e) }))
      .then((out) => {
        if (!live) return;
        // Ages are measured from when the engine read the rows, not from when the answer arrived.
        if (out.status === "ok") {
          const at = Date.parse(out.data.at);
          if (memory) memory.last = { key, overview: out.data, at };
          setResult({ req, key, overview: out.data, error: null, at });
        }
        else setResult((prev) => ({ ...prev, req, error: out.error }));
      });
    return () => {
      live = false;
    };
  }, [accountId, frame, req, key, memory]);

  const refresh = useCallback(
    async (frames: string[]) => {
      if (!accountId) return;
      setRefreshing(true);
      setDiscoverError(null);
      for (const f of frames) {
        const out = await commands.discoverResources(accountId, f).catch((e: unknown) => ({ status: "error" as const, error: toApiError(e) }));
        if (out.status === "error") {
          setDiscoverError({ frame: f, error: out.error });
          break;
        }
      }
      setRefreshing(false);
      // What was discovered before a failure is in the cache too: read the table again anyway.
      reload();
    },
    [accountId, reload],
  );

  // Another account's or Frame account's rows are never shown under this one's name.
  const remembered = memory?.last?.key === key ? memory.last : null;
  const answered = result.key === key && result.overview !== null;
  const current = answered ? result.overview : (remembered?.overview ?? null);
  const at = answered ? result.at : (remembered?.at ?? 0);
  const loading = enabled && result.req !== req;
  const error = result.req === req ? result.error : null;
  return { data: current, at, loading, error, refreshing, discoverError, reload, refresh };
}

export function VolumesPanel(props: { state: OverviewState; accountName: string }) {
  const { data, at, loading, error, discoverError } = props.state;
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<Sort>({ key: "name", desc: false });
  // Filtered in the keystroke's own render, not deferred: a substring test over 15,000 lowercased
  // names takes about a millisecond, and a deferred render paints the window twice per key (the
  // character, then the rows), which costs more than the filter on a CPU-drawn window.
  const sorted = useSortedRows(data?.rows ?? EMPTY, sort);
  const shown = useMemo(() => filterByName(sorted, search), [sorted, search]);
  const total = data?.rows.length ?? 0;

  return (
    <Stack gap="sm">
      {discoverError && (
        <ErrorNotice title={`Discovery of ${discoverError.frame} at the provider failed; the table shows what was discovered before`} error={discoverError.error} />
      )}
      {error && <ErrorNotice title="The volumes could not be read" error={error} />}
      {loading && !data && <Loader aria-label="Loading volumes" />}
      {data && data.guest.state === "unknown" && total > 0 && (
        <Alert variant="light" color="yellow" icon={<IconInfoCircle />} title="Free space is unknown" data-testid="guest-unknown" role="status">
          {data.guest.why}
        </Alert>
      )}
      {data && total === 0 && (
        <EmptyState icon={<IconDatabaseOff size={30} />} title="No volumes discovered yet">
          Standby lists the volumes its last discovery of {props.accountName} found
          {data.frame_account ? ` for Frame account ${data.frame_account}` : ""}. Choose the Frame account and press{" "}
          <b>Refresh from the provider</b> to read them from the {data.provider === "ahv" ? "cluster" : "subscription"}.
        </EmptyState>
      )}
      {data && total > 0 && (
        <>
          <Group justify="space-between" align="center">
            <TextInput
              leftSection={<IconSearch size={16} />}
              placeholder="Search by volume name"
              aria-label="Search volumes"
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
              w={360}
            />
            <Group gap="xs">
              {loading && <Loader size="xs" aria-label="Updating" />}
              <Text size="sm" c="dimmed" data-testid="volume-count" aria-live="polite">
                {shown.length === total ? `${num(total)} volumes` : `${num(shown.length)} of ${num(total)} volumes`}
              </Text>
            </Group>
          </Group>
          <VolumeTable rows={shown} total={total} sort={sort} onSort={setSort} now={at} />
          {shown.length === 0 && (
            <Text size="sm" c="dimmed" ta="center">
              No volume name contains “{search.trim()}”.
            </Text>
          )}
        </>
      )}
    </Stack>
  );
}

const EMPTY: VolumeOverview["rows"] = [];
