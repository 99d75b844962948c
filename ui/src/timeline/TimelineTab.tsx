// The Timeline tab of the Volumes page: which account (and optionally which volume), which
// window, the account's target RPO with its edit control, then the timeline itself.
import { Alert, Button, Group, Loader, NumberInput, SegmentedControl, Select, Stack, Text, TextInput } from "@mantine/core";
import { IconInfoCircle, IconRefresh } from "@tabler/icons-react";
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type CloudAccount,
  type RpoSource,
  type TargetRpo,
  type Timeline_Serialize,
  type VolumeRow_Serialize,
} from "../bindings";
import { RESOURCE } from "../backups/words";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { useNotificationAdded } from "../notifications/live";
import { num, plural } from "../numbers";

// The chart's module (ECharts) is loaded when the tab is first shown: the window starts without it.
// It is asked for as the tab mounts, so that it loads while the engine reads the timeline.
const chartModule = () => import("./Timeline");
const Timeline = lazy(() => chartModule().then((m) => ({ default: m.Timeline })));

/**
 * The most backups drawn one by one: beyond, the engine counts them per lane and pixel column
 * (buckets), and a zoom re-reads the part in view. A few thousand symbols draw within a frame.
 */
export const POINTS_AT_MOST = 5_000;

/** Columns to count a window in: the screen's width, at least a column per pixel of the chart. */
function columns(): number {
  return Math.max(300, Math.min(4000, Math.round(window.innerWidth || 1280)));
}
/** Scheduled runs to come are shown this far ahead. */
const UPCOMING_DAYS = 7;
const DAY_MS = 86_400_000;
/** The engine's bound (`timeline::MAX_RPO_HOURS`): a year. */
const MAX_RPO_HOURS = 24 * 366;
/** A notification about the account re-reads the timeline at most this often. */
const RELOAD_MS = 2000;

const WINDOWS = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
];

const RPO_SOURCE: Record<RpoSource, string> = {
  set: "Set for this account.",
  schedule: "None set: the schedule's interval applies.",
  default: "None set and no schedule on: a day applies.",
};

type Scope = "account" | "volume";


export function TimelineTab(props: { accounts: CloudAccount[] }) {
  const [accountId, setAccountId] = useState<string | null>(props.accounts[0]?.id ?? null);
  const [frameAccount, setFrameAccount] = useState("");
  const [scope, setScope] = useState<Scope>("account");
  const [volume, setVolume] = useState<string | null>(null);
  const [days, setDays] = useState("7");
  const [volumes, setVolumes] = useState<{ rows: VolumeRow_Serialize[] } | { error: ApiError } | null>(null);
  const [timeline, setTimeline] = useState<Timeline_Serialize | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    void chartModule().catch(() => {});
  }, []);

  // The Frame account DR was enabled for on this cloud account, when there is one.
  useEffect(() => {
    let live = true;
    void commands
      .drConfigs()
      .then((out) => {
        if (!live || out.status !== "ok") return;
        const known = out.data.find((c) => c.account_id === accountId);
        if (known) setFrameAccount(known.frame_account);
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [accountId]);

  // Volumes for the picker, from the catalog's Volumes table.
  useEffect(() => {
    if (scope !== "volume" || !accountId) return;
    let live = true;
    const frame = frameAccount.trim() || null;
    const read = setTimeout(() => {
      commands
        .volumeOverview(accountId, frame)
        .then((out) => live && setVolumes(out.status === "ok" ? { rows: out.data.rows } : { error: out.error }))
        .catch((e: unknown) => live && setVolumes({ error: toApiError(e) }));
    }, 300);
    return () => {
      live = false;
      clearTimeout(read);
    };
  }, [scope, accountId, frameAccount]);

  const query = useMemo(() => {
    if (!accountId || (scope === "volume" && !volume)) return null;
    return { account: accountId, frame: frameAccount.trim() || null, volume: scope === "volume" ? volume : null, days: Number(days) };
  }, [accountId, frameAccount, scope, volume, days]);
  const queryKey = query ? JSON.stringify(query) : "";

  // Answers can arrive out of order: keep the newest ask's.
  const asked = useRef(0);
  const load = useCallback(async (q: NonNullable<typeof query>) => {
    const ask = ++asked.current;
    setLoading(true);
    const now = Date.now();
    let out;
    try {
      out = await commands.timeline({
        account_id: q.account,
        frame_account: q.frame,
        volume: q.volume,
        from: new Date(now - q.days * DAY_MS).toISOString(),
        to: new Date(now + UPCOMING_DAYS * DAY_MS).toISOString(),
        max_points: POINTS_AT_MOST,
        columns: columns(),
      });
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    if (ask !== asked.current) return;
    setLoading(false);
    if (out.status === "ok") {
      setTimeline(out.data);
      setError(null);
    } else {
      setError(out.error);
    }
  }, []);

  // The first read at once; later changes (the Frame account is typed) after a pause.
  const firstRead = useRef(true);
  useEffect(() => {
    if (!query) return;
    const t = setTimeout(() => void load(query), firstRead.current ? 0 : 300);
    firstRead.current = false;
    return () => clearTimeout(t);
    // The key says when the query changed; the object is new on each render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [queryKey, load]);

  // A zoomed part of the shown window, re-read finer (backups only; runs and gaps are the window's).
  const readDetail = useCallback(
    async (from: string, to: string, cols: number) => {
      if (!query) return { error: { code: "invalid_input", message: "Pick a cloud account first." } as ApiError };
      try {
        const out = await commands.timeline({
          account_id: query.account,
          frame_account: query.frame,
          volume: query.volume,
          from,
          to,
          max_points: POINTS_AT_MOST,
          columns: cols,
          backups_only: true,
        });
        return out.status === "ok" ? { ok: out.data } : { error: out.error };
      } catch (e) {
        return { error: toApiError(e) };
      }
    },
    // The key says when the query changed; the object is new on each render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [queryKey],
  );

  const reload = useCallback(() => {
    if (query) void load(query);
  }, [query, load]);

  // A backup, replica or restore of this account changes its timeline.
  const lastReload = useRef(0);
  useNotificationAdded((n) => {
    if (!n.account_id || n.account_id !== accountId || Date.now() - lastReload.current < RELOAD_MS) return;
    lastReload.current = Date.now();
    reload();
  });

  const choices = useMemo(
    () =>
      volumes && "rows" in volumes
        ? volumes.rows
            .filter((v) => v.kind !== "template_image")
            .map((v) => ({ value: v.volume_id, label: `${v.name} · ${RESOURCE[v.kind]}${v.owner ? ` · ${v.owner}` : ""}` }))
        : [],
    [volumes],
  );
  const shown = timeline && query && timeline.account_id === query.account ? timeline : null;

  return (
    <Stack gap="md">
      <Group align="flex-end" gap="sm" wrap="wrap">
        <Select
          label="Cloud account"
          data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
          value={accountId}
          onChange={(id) => {
            setAccountId(id);
            setVolume(null);
            setVolumes(null);
            setTimeline(null);
          }}
          allowDeselect={false}
          w={200}
        />
        <TextInput
          label="Frame account"
          placeholder="All"
          value={frameAccount}
          onChange={(e) => setFrameAccount(e.currentTarget.value)}
          w={160}
          data-testid="timeline-frame-account"
        />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="timeline-scope-label">
            Show
          </Text>
          <SegmentedControl
            aria-labelledby="timeline-scope-label"
            value={scope}
            onChange={(v) => setScope(v as Scope)}
            data={[
              { value: "account", label: "Whole account" },
              { value: "volume", label: "One volume" },
            ]}
            data-testid="timeline-scope"
          />
        </Stack>
        {scope === "volume" && (
          <Select
            label="Volume"
            placeholder={volumes ? "Type to search by name or owner" : "Reading the volumes…"}
            data={choices}
            value={volume}
            onChange={setVolume}
            searchable
            limit={100}
            disabled={!volumes || !("rows" in volumes)}
            nothingFoundMessage="No volume of that name"
            style={{ flex: 1, minWidth: 260 }}
            data-testid="timeline-volume"
          />
        )}
        <Stack gap={4}>
          <Text size="sm" fw={500} id="timeline-window-label">
            Window (and the next {UPCOMING_DAYS} days)
          </Text>
          <SegmentedControl aria-labelledby="timeline-window-label" value={days} onChange={setDays} data={WINDOWS} data-testid="timeline-window" />
        </Stack>
        <Button variant="default" leftSection={<IconRefresh size={16} />} onClick={reload} loading={loading} disabled={!query}>
          Refresh
        </Button>
      </Group>
      {accountId && <RpoControl key={accountId} account={accountId} onSaved={reload} />}
      {volumes && "error" in volumes && scope === "volume" && (
        <ErrorNotice title="The volumes could not be listed" error={volumes.error} />
      )}
      {scope === "volume" && volumes && "rows" in volumes && choices.length === 0 && (
        <Text size="sm" c="dimmed">
          No volumes of this account have been discovered yet: open the Volumes tab and refresh from the provider.
        </Text>
      )}
      {error && <ErrorNotice title="The timeline could not be read" error={error} />}
      {!query ? (
        <Text size="sm" c="dimmed">
          Pick a volume to see its timeline.
        </Text>
      ) : !shown ? (
        loading && <Loader aria-label="Reading the timeline" />
      ) : (
        <>
          <LeftOut t={shown} />
          <Suspense fallback={<Loader aria-label="Loading the chart" />}>
            <Timeline key={queryKey} timeline={shown} readDetail={readDetail} onRestored={reload} />
          </Suspense>
        </>
      )}
    </Stack>
  );
}

/** What the engine did not return, said plainly. */
function LeftOut(props: { t: Timeline_Serialize }) {
  const t = props.t;
  const lines: string[] = [];
  if (t.points_left_out > 0)
    lines.push(
      `${plural(t.points_left_out, "older backup", "older backups")} in this window ${t.points_left_out === 1 ? "is" : "are"} not drawn: the timeline shows the newest ${num(POINTS_AT_MOST)}. Pick a shorter window or one volume to see them.`,
    );
  if (t.gaps_left_out > 0)
    lines.push(
      `${plural(t.gaps_left_out, "shorter gap is", "shorter gaps are")} not shaded: the whole account shows its ${num(t.gaps.length)} longest. Pick one volume to see all of its gaps.`,
    );
  if (t.upcoming_left_out > 0)
    lines.push(`${plural(t.upcoming_left_out, "later scheduled run is", "later scheduled runs are")} not shown.`);
  if (lines.length === 0) return null;
  return (
    <Alert variant="light" color="yellow" icon={<IconInfoCircle />} title="Not everything is drawn" data-testid="timeline-left-out">
      {lines.map((l) => (
        <Text key={l} size="sm">
          {l}
        </Text>
      ))}
    </Alert>
  );
}

/** The account's target RPO, and its edit control (hours). */
function RpoControl(props: { account: string; onSaved: () => void }) {
  const [rpo, setRpo] = useState<TargetRpo | null>(null);
  const [readError, setReadError] = useState<ApiError | null>(null);
  const [hours, setHours] = useState<string | number>("");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let live = true;
    commands
      .targetRpo(props.account)
      .then((out) => {
        if (!live) return;
        if (out.status === "ok") {
          setRpo(out.data);
          setHours(out.data.hours);
        } else setReadError(out.error);
      })
      .catch((e: unknown) => live && setReadError(toApiError(e)));
    return () => {
      live = false;
    };
  }, [props.account]);

  const n = typeof hours === "number" ? hours : Number.NaN;
  const invalid = hours !== "" && (!Number.isInteger(n) || n < 1 || n > MAX_RPO_HOURS);
  const changed = rpo !== null && n !== rpo.hours;

  async function save() {
    if (!Number.isInteger(n) || invalid) return;
    setSaving(true);
    setSaveError(null);
    setSaved(false);
    let out;
    try {
      out = await commands.setTargetRpo(props.account, n);
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    setSaving(false);
    if (out.status === "ok") {
      setRpo(out.data);
      setHours(out.data.hours);
      setSaved(true);
      props.onSaved();
    } else setSaveError(out.error);
  }

  if (readError) return <ErrorNotice title="The target RPO could not be read" error={readError} />;
  return (
    <Stack gap={6}>
      <form
        aria-label="Target RPO"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Group align="flex-end" gap="sm">
          <NumberInput
            label="Target RPO (hours)"
            description={rpo ? `${RPO_SOURCE[rpo.source]} Gaps between usable backups longer than this are shaded red.` : "Reading…"}
            value={hours}
            onChange={(v) => {
              setHours(v);
              setSaved(false);
            }}
            min={1}
            max={MAX_RPO_HOURS}
            allowDecimal={false}
            allowNegative={false}
            disabled={!rpo}
            error={invalid ? `Enter whole hours from 1 to ${MAX_RPO_HOURS}.` : undefined}
            w={420}
            data-testid="target-rpo"
          />
          <Button type="submit" variant="default" loading={saving} disabled={!rpo || !changed || invalid || hours === ""}>
            Save target RPO
          </Button>
          {saved && (
            <Text size="sm" c="teal" role="status">
              Saved: {rpo?.hours} hours.
            </Text>
          )}
        </Group>
      </form>
      {saveError && <ErrorNotice title="The target RPO was not saved" error={saveError} />}
    </Stack>
  );
}
