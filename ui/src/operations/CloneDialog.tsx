// *Clone volumes*: persistent desktops of a Frame account on one AHV cluster copied to a Frame
// account on another. The engine's pre-flight (`planClone`) is asked again whenever a field
// changes; Clone is offered only for the plan on screen, and only when no check blocks it.
import {
  Alert,
  Badge,
  Box,
  Button,
  Group,
  Loader,
  Modal,
  MultiSelect,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconAlertTriangle, IconBan, IconCheck, IconCircleCheck, IconInfoCircle } from "@tabler/icons-react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type CheckStatus,
  type CloneOutcome_Serialize,
  type ClonePlan_Serialize,
  type CloneRequest_Deserialize,
  type PlannedDesktop_Serialize,
} from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError, useCommand } from "../ipc";
import { JobProgressBar, newTicket, useTicketProgress } from "./progress";

const STATUS: Record<CheckStatus, { color: string; label: string; Icon: typeof IconCheck }> = {
  ok: { color: "green", label: "passed", Icon: IconCheck },
  warning: { color: "orange", label: "warning", Icon: IconAlertTriangle },
  blocked: { color: "red", label: "blocked", Icon: IconBan },
};

type Planned =
  | { key: string; state: "ready"; plan: ClonePlan_Serialize }
  | { key: string; state: "failed"; error: ApiError };

type Run =
  | { at: "running"; ticket: string; cancelling: boolean }
  | { at: "done"; outcome: CloneOutcome_Serialize }
  | { at: "failed"; error: ApiError; cancelled: boolean };

const ROW_HEIGHT = 64;

export function CloneDialog(props: { account: string; frameAccount: string; onClose: () => void }) {
  const accounts = useCommand(() => commands.listCloudAccounts());
  const destinations = useMemo(
    () => (accounts.state === "ready" ? accounts.data.filter((a) => a.kind === "ahv" && a.id !== props.account) : []),
    [accounts, props.account],
  );
  const source = accounts.state === "ready" ? accounts.data.find((a) => a.id === props.account) : undefined;
  const [destination, setDestination] = useState<string | null>(null);
  const [destFrame, setDestFrame] = useState(props.frameAccount.trim());
  const [replaceAssigned, setReplaceAssigned] = useState(false);
  const [keepRunning, setKeepRunning] = useState(false);
  const [selected, setSelected] = useState<string[]>([]);
  const [planned, setPlanned] = useState<Planned | null>(null);
  const [known, setKnown] = useState<string[]>([]);
  const [run, setRun] = useState<Run | null>(null);
  const cancelling = useRef(false);

  // The first other AHV account, until the administrator picks one.
  const dest = destination ?? destinations[0]?.id ?? null;

  const req: CloneRequest_Deserialize | null = dest
    ? {
        source_account: props.account,
        destination_account: dest,
        frame_account: props.frameAccount.trim(),
        destination_frame_account: destFrame.trim() || null,
        replace_assigned: replaceAssigned,
        keep_running: keepRunning,
        volumes: selected,
        session_timeout_secs: null,
        actor: "window",
      }
    : null;
  const key = req ? JSON.stringify(req) : "";
  // A quarter second after the last edit: typing a Frame account asks once, not per letter.
  const [debouncedKey] = useDebouncedValue(key, 300);

  useEffect(() => {
    if (!debouncedKey) return;
    let live = true;
    const asked = JSON.parse(debouncedKey) as CloneRequest_Deserialize;
    commands
      .planClone(asked)
      .then((out) => {
        if (!live) return;
        if (out.status === "ok") {
          setPlanned({ key: debouncedKey, state: "ready", plan: out.data });
          // The selection offers every desktop a plan has shown (a selection narrows the plan).
          setKnown((k) => [...new Set([...k, ...out.data.desktops.map((d) => d.name)])].sort());
        } else setPlanned({ key: debouncedKey, state: "failed", error: out.error });
      })
      .catch((e: unknown) => live && setPlanned({ key: debouncedKey, state: "failed", error: toApiError(e) }));
    return () => {
      live = false;
    };
  }, [debouncedKey]);

  const current = planned && planned.key === key ? planned : null;
  const canClone = current?.state === "ready" && current.plan.can_run && run === null;

  async function start() {
    if (!req || !canClone) return;
    const ticket = newTicket();
    cancelling.current = false;
    setRun({ at: "running", ticket, cancelling: false });
    try {
      const out = await commands.cloneVolumes(ticket, req);
      setRun(out.status === "ok" ? { at: "done", outcome: out.data } : { at: "failed", error: out.error, cancelled: cancelling.current });
    } catch (e) {
      setRun({ at: "failed", error: toApiError(e), cancelled: cancelling.current });
    }
  }

  async function cancel(ticket: string) {
    cancelling.current = true;
    setRun((r) => (r?.at === "running" ? { ...r, cancelling: true } : r));
    await commands.cancelOperation(ticket).catch(() => false);
  }

  const editing = run === null;
  return (
    <Modal opened onClose={props.onClose} title="Clone volumes" size="xl" closeOnClickOutside={run?.at !== "running"}>
      <Stack gap="md">
        <Text size="sm">
          Copies the persistent desktops of <b>{props.frameAccount || "…"}</b> on{" "}
          <b>{source?.name ?? props.account}</b> to a Frame account on another AHV cluster, through the remote site
          between the clusters. Each clone is a new desktop; nothing on the source is changed.
        </Text>
        {accounts.state === "failed" && <ErrorNotice title="Cloud accounts could not be read" error={accounts.error} />}
        {accounts.state === "ready" && destinations.length === 0 && (
          <Alert color="orange" variant="light" icon={<IconInfoCircle />}>
            A clone needs a second AHV cloud account to copy to. Add it on the Cloud accounts page.
          </Alert>
        )}
        <Group grow align="flex-start">
          <Select
            label="Destination account"
            description="Another AHV cluster"
            data={destinations.map((a) => ({ value: a.id, label: a.name }))}
            value={dest}
            onChange={setDestination}
            allowDeselect={false}
            disabled={!editing || destinations.length === 0}
            comboboxProps={{ withinPortal: true }}
            data-testid="clone-destination"
          />
          <TextInput
            label="Destination Frame account"
            description="Defaults to the same name"
            value={destFrame}
            onChange={(e) => setDestFrame(e.currentTarget.value)}
            placeholder={props.frameAccount}
            disabled={!editing}
            data-testid="clone-destination-frame"
          />
        </Group>
        <Switch
          label="Replace assigned volumes"
          description="Off: an owner who already has an assigned desktop in the destination is skipped. On: the clone is made beside that desktop, which is powered off and kept (never deleted); assign the clone to the user in Frame, then delete the old desktop once the clone is confirmed good."
          checked={replaceAssigned}
          onChange={(e) => setReplaceAssigned(e.currentTarget.checked)}
          disabled={!editing}
          data-testid="clone-replace-assigned"
        />
        <Switch
          label="Keep running"
          description="Power the clones on once they are made. Off: they stay powered off."
          checked={keepRunning}
          onChange={(e) => setKeepRunning(e.currentTarget.checked)}
          disabled={!editing}
          data-testid="clone-keep-running"
        />
        <MultiSelect
          label="Desktops"
          description="Leave empty to clone every persistent desktop with an owner."
          placeholder={selected.length ? undefined : "All persistent desktops with an owner"}
          data={[...new Set([...known, ...selected])]}
          value={selected}
          onChange={setSelected}
          searchable
          clearable
          disabled={!editing}
          maxDropdownHeight={240}
          comboboxProps={{ withinPortal: true }}
          data-testid="clone-desktops"
        />

        {/* Once done, the outcome (the clones' real names) replaces the plan's forecast. */}
        {run?.at !== "done" && <PlanView planned={planned} stale={!!req && !current} />}

        {run?.at === "running" && <RunningStep run={run} onCancel={() => void cancel(run.ticket)} />}
        {run?.at === "done" && <OutcomeStep outcome={run.outcome} />}
        {run?.at === "failed" && (
          <>
            <ErrorNotice title={run.cancelled ? "The clone was cancelled" : "The clone did not complete"} error={run.error} />
            <Text size="sm">
              The source desktops run as they did before. Clones already made are kept; the notification center has
              the job's outcome.
            </Text>
            <Group>
              <Button variant="default" onClick={() => setRun(null)}>
                Back to the plan
              </Button>
            </Group>
          </>
        )}

        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Close
          </Button>
          {editing && (
            <Button onClick={() => void start()} disabled={!canClone}>
              Clone
            </Button>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}

function PlanView(props: { planned: Planned | null; stale: boolean }) {
  const p = props.planned;
  // While the engine checks a change, the previous answer stays on screen, dimmed: nothing jumps.
  const checking = props.stale && (
    <Group gap="sm" aria-live="polite">
      <Loader size="sm" aria-hidden />
      <Text size="sm">Checking the prerequisites…</Text>
    </Group>
  );
  if (!p) return checking || null;
  if (p.state === "failed")
    return (
      <>
        {checking}
        <ErrorNotice title="The clone could not be checked" error={p.error} />
      </>
    );
  const plan = p.plan;
  const counts = { clone: 0, replace: 0, skip: 0 };
  for (const d of plan.desktops) counts[d.action.action] += 1;
  return (
    <Stack gap="sm" style={props.stale ? { opacity: 0.55 } : undefined} aria-busy={props.stale}>
      {checking}
      <Box aria-live="polite">
        <Title order={3} size="h5" mb={4}>
          Prerequisites
        </Title>
        <Stack gap={6} component="ul" m={0} p={0} style={{ listStyle: "none" }} data-testid="clone-checks">
          {plan.checks.map((c) => {
            const s = STATUS[c.status];
            return (
              <Group component="li" key={c.name} gap="sm" wrap="nowrap" align="flex-start" data-status={c.status}>
                <ThemeIcon color={s.color} variant="light" size={22} radius="xl" aria-label={s.label}>
                  <s.Icon size={14} aria-hidden />
                </ThemeIcon>
                <Box style={{ flex: 1, minWidth: 0 }}>
                  <Text size="sm" fw={600}>
                    {c.name}
                  </Text>
                  <Text size="sm" c={c.status === "ok" ? "dimmed" : undefined} style={{ overflowWrap: "anywhere" }}>
                    {c.message}
                  </Text>
                </Box>
              </Group>
            );
          })}
        </Stack>
      </Box>
      <Text size="sm" data-testid="clone-summary">
        {plan.can_run
          ? `Ready: ${counts.clone} to clone, ${counts.replace} to replace, ${counts.skip} skipped.`
          : `Blocked: resolve the checks marked blocked. ${counts.clone} to clone, ${counts.replace} to replace, ${counts.skip} skipped.`}
      </Text>
      <DesktopList desktops={plan.desktops} />
    </Stack>
  );
}

function fate(d: PlannedDesktop_Serialize): { badge: string; color: string; words: string } {
  switch (d.action.action) {
    case "clone":
      return { badge: "Clone", color: "blue", words: `as ${d.action.new_name}` };
    case "replace":
      return {
        badge: "Replace",
        color: "orange",
        // The engine's power words say what happens to the replaced desktop.
        words: `as ${d.action.new_name}, beside ${d.action.replaces}`,
      };
    case "skip":
      return { badge: "Skip", color: "gray", words: d.action.reason };
  }
}

/** Each desktop's fate; a Frame account may have thousands, so drawn a screenful at a time. */
function DesktopList(props: { desktops: PlannedDesktop_Serialize[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtual = useVirtualizer({
    count: props.desktops.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
  });
  if (props.desktops.length === 0) return null;
  return (
    <Box
      ref={scroller}
      role="list"
      aria-label="Desktops and what the clone does with each"
      tabIndex={0}
      h={Math.min(300, props.desktops.length * ROW_HEIGHT + 2)}
      style={{
        overflowY: "auto",
        border: "1px solid var(--mantine-color-default-border)",
        borderRadius: "var(--mantine-radius-sm)",
      }}
      data-testid="clone-desktop-list"
    >
      <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
        {virtual.getVirtualItems().map((item) => {
          const d = props.desktops[item.index]!;
          const f = fate(d);
          return (
            <Group
              key={d.uuid}
              role="listitem"
              aria-setsize={props.desktops.length}
              aria-posinset={item.index + 1}
              wrap="nowrap"
              gap="sm"
              px="sm"
              style={{
                position: "absolute",
                top: 0,
                left: 0,
                right: 0,
                height: ROW_HEIGHT,
                transform: `translateY(${item.start}px)`,
                borderTop: item.index === 0 ? undefined : "1px solid var(--mantine-color-default-border)",
              }}
            >
              <Badge color={f.color} variant="light" tt="none" w={72}>
                {f.badge}
              </Badge>
              <Box style={{ flex: 1, minWidth: 0 }}>
                <Text size="sm" fw={600} truncate>
                  {d.name}
                  {d.owner ? <Text span c="dimmed" fw={400}>{` · ${d.owner}`}</Text> : null}
                </Text>
                <Text size="xs" c="dimmed" lineClamp={2} title={[f.words, ...d.power].join("; ")}>
                  {[f.words, ...d.power].join("; ")}
                </Text>
              </Box>
              {d.session.state === "in_session" && (
                <Badge color="orange" variant="light" tt="none" title="The clone waits for the user to leave">
                  In session
                </Badge>
              )}
            </Group>
          );
        })}
      </div>
    </Box>
  );
}

function RunningStep(props: { run: Extract<Run, { at: "running" }>; onCancel: () => void }) {
  const progress = useTicketProgress(props.run.ticket);
  return (
    <Stack gap="xs">
      <JobProgressBar progress={progress} label="Clone" />
      <Group justify="space-between">
        <Text size="xs" c="dimmed">
          You can close this window: the clone goes on, and the notification center follows it.
        </Text>
        <Button
          color="red"
          variant="light"
          onClick={props.onCancel}
          loading={props.run.cancelling}
          disabled={props.run.cancelling}
        >
          Cancel clone
        </Button>
      </Group>
    </Stack>
  );
}

function OutcomeStep(props: { outcome: CloneOutcome_Serialize }) {
  const o = props.outcome;
  return (
    <Stack gap="xs">
      <Alert
        color="green"
        variant="light"
        icon={<IconCircleCheck />}
        title={`${o.cloned.length} ${o.cloned.length === 1 ? "desktop" : "desktops"} cloned`}
        data-testid="clone-outcome"
      >
        <Text size="sm">
          On {o.plan.destination.account_name} ({o.plan.destination.frame_account}), from snapshot {o.snapshot}.
          {o.source_powered_on.length > 0 ? ` Source desktops running again: ${o.source_powered_on.join(", ")}.` : ""}
        </Text>
      </Alert>
      <Box component="ul" m={0} p={0} style={{ listStyle: "none" }} aria-label="Clones">
        {o.cloned.map((c, i) => (
          <Box
            component="li"
            key={c.new_uuid}
            py={6}
            style={{ borderTop: i === 0 ? undefined : "1px solid var(--mantine-color-default-border)" }}
          >
            <Group gap="xs" wrap="wrap">
              <Text size="sm" fw={600}>
                {c.new_name}
              </Text>
              <Badge color={c.powered_on ? "green" : "gray"} variant="light" tt="none">
                {c.powered_on ? "Running" : "Powered off"}
              </Badge>
              {c.replaced && (
                <Badge color="orange" variant="light" tt="none">
                  {c.replaced} powered off and kept
                </Badge>
              )}
            </Group>
            <Text size="xs" c="dimmed">
              from {c.source}
              {c.owner ? ` (${c.owner})` : ""}
            </Text>
          </Box>
        ))}
      </Box>
    </Stack>
  );
}
