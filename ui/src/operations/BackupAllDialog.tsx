// *Backup all volumes*: the engine's dry run first (what it would back up, what it skips and
// why), a confirmation, then the real run followed live, then its outcome in the engine's words.
import {
  Alert,
  Badge,
  Box,
  Button,
  Checkbox,
  Group,
  Loader,
  Modal,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
} from "@mantine/core";
import { IconCircleCheck, IconInfoCircle } from "@tabler/icons-react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type BackupAllOutcome_Serialize,
  type BackupAllRequest_Deserialize,
  type ResourceKind,
} from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { JobProgressBar, newTicket, useTicketProgress } from "./progress";

export const KIND_WORDS: Record<ResourceKind, string> = {
  sandbox: "Sandbox",
  utility_server: "Utility server",
  persistent_desktop: "Persistent desktop",
  enterprise_profile: "Enterprise profile",
  personal_drive: "Personal drive",
  template_image: "Template image",
};

/** One line of the dry-run list: a volume to back up, or one left out with the engine's reason. */
type Row =
  | { to: "backup"; id: string; name: string; detail: string; powerCycle: boolean }
  | { to: "skip"; id: string; name: string; detail: string; reason: string };

type Stage =
  | { at: "planning" }
  | { at: "plan-failed"; error: ApiError }
  | { at: "plan"; plan: BackupAllOutcome_Serialize }
  | { at: "running"; plan: BackupAllOutcome_Serialize; ticket: string; cancelling: boolean }
  | { at: "done"; plan: BackupAllOutcome_Serialize; outcome: BackupAllOutcome_Serialize }
  | { at: "failed"; plan: BackupAllOutcome_Serialize; error: ApiError; cancelled: boolean };

const ROW_HEIGHT = 52;

/** The request both the dry run and the run send: they differ only in `dry_run` (and the name). */
function request(account: string, frameAccount: string, name: string, dryRun: boolean): BackupAllRequest_Deserialize {
  return {
    account,
    frame_account: frameAccount,
    kind: "manual",
    resource_kinds: [],
    volumes: [],
    name: name.trim() || null,
    dry_run: dryRun,
    actor: "window",
  };
}

export function BackupAllDialog(props: { account: string; frameAccount: string; onClose: () => void }) {
  const [stage, setStage] = useState<Stage>({ at: "planning" });
  const [generation, setGeneration] = useState(0);
  const [name, setName] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  // Whether Cancel was pressed, read when the run's command resolves.
  const cancelling = useRef(false);

  useEffect(() => {
    // Without a Frame account there is nothing to ask: the dialog says what to do instead.
    if (!props.frameAccount.trim()) return;
    let live = true;
    commands
      .planBackupAll(request(props.account, props.frameAccount, "", true))
      .then((out) => {
        if (!live) return;
        setStage(out.status === "ok" ? { at: "plan", plan: out.data } : { at: "plan-failed", error: out.error });
      })
      .catch((e: unknown) => live && setStage({ at: "plan-failed", error: toApiError(e) }));
    return () => {
      live = false;
    };
  }, [props.account, props.frameAccount, generation]);

  async function run(plan: BackupAllOutcome_Serialize) {
    const ticket = newTicket();
    cancelling.current = false;
    setStage({ at: "running", plan, ticket, cancelling: false });
    try {
      const out = await commands.backupAll(ticket, request(props.account, props.frameAccount, name, false));
      setStage(
        out.status === "ok"
          ? { at: "done", plan, outcome: out.data }
          : { at: "failed", plan, error: out.error, cancelled: cancelling.current },
      );
    } catch (e) {
      setStage({ at: "failed", plan, error: toApiError(e), cancelled: cancelling.current });
    }
  }

  async function cancel(ticket: string) {
    cancelling.current = true;
    setStage((s) => (s.at === "running" ? { ...s, cancelling: true } : s));
    // False: the job ended already; its outcome arrives through `backupAll` all the same.
    await commands.cancelOperation(ticket).catch(() => false);
  }

  const frame = props.frameAccount.trim();
  return (
    <Modal opened onClose={props.onClose} title="Back up all volumes" size="xl" closeOnClickOutside={stage.at !== "running"}>
      <Stack gap="md">
        {!frame && (
          <Alert color="orange" variant="light" icon={<IconInfoCircle />}>
            Enter the Frame account on the Volumes tab first: the backup covers one Frame account.
          </Alert>
        )}
        {!frame && (
          <Group justify="flex-end">
            <Button onClick={props.onClose}>Close</Button>
          </Group>
        )}
        {frame && stage.at === "planning" && (
          <Group gap="sm" aria-live="polite">
            <Loader size="sm" aria-hidden />
            <Text size="sm">Checking which volumes of {frame} would be backed up (a dry run: nothing changes)…</Text>
          </Group>
        )}
        {stage.at === "plan-failed" && (
          <>
            <ErrorNotice title="The dry run could not be made" error={stage.error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={props.onClose}>
                Close
              </Button>
              <Button onClick={() => (setStage({ at: "planning" }), setGeneration((g) => g + 1))}>Try again</Button>
            </Group>
          </>
        )}
        {stage.at === "plan" && (
          <PlanStep
            plan={stage.plan}
            name={name}
            onName={setName}
            confirmed={confirmed}
            onConfirmed={setConfirmed}
            onClose={props.onClose}
            onRun={() => void run(stage.plan)}
          />
        )}
        {stage.at === "running" && (
          <RunningStep ticket={stage.ticket} cancelling={stage.cancelling} onCancel={() => void cancel(stage.ticket)} count={stage.plan.plan.eligible.length} />
        )}
        {stage.at === "done" && <OutcomeStep outcome={stage.outcome} onClose={props.onClose} />}
        {stage.at === "failed" && (
          <>
            <ErrorNotice
              title={stage.cancelled ? "The backup was cancelled" : "Not every volume was backed up"}
              error={stage.error}
            />
            <Text size="sm">
              Backups already made are kept and listed on the Backups tab. The job is in the notification center,
              where its outcome says what remains.
            </Text>
            <SkippedNote count={stage.plan.plan.skipped.length} />
            <Group justify="flex-end">
              <Button onClick={props.onClose}>Close</Button>
            </Group>
          </>
        )}
      </Stack>
    </Modal>
  );
}

function rowsOf(plan: BackupAllOutcome_Serialize, show: "backup" | "skip"): Row[] {
  if (show === "backup")
    return plan.plan.eligible.map((v) => ({
      to: "backup",
      id: v.volume_id,
      name: v.volume_name,
      detail: `${KIND_WORDS[v.kind]} · ${v.location}`,
      powerCycle: v.power_cycle,
    }));
  return plan.plan.skipped.map((s) => ({ to: "skip", id: s.volume_id, name: s.volume_name, detail: s.message, reason: s.reason }));
}

function PlanStep(props: {
  plan: BackupAllOutcome_Serialize;
  name: string;
  onName: (n: string) => void;
  confirmed: boolean;
  onConfirmed: (c: boolean) => void;
  onClose: () => void;
  onRun: () => void;
}) {
  const { eligible, skipped } = props.plan.plan;
  const [show, setShow] = useState<"backup" | "skip">(eligible.length > 0 || skipped.length === 0 ? "backup" : "skip");
  const cycled = eligible.filter((v) => v.power_cycle).length;
  const n = eligible.length;
  return (
    <>
      <Group gap="lg" data-testid="backup-all-counts" aria-live="polite">
        <Text size="sm">
          <Text span fw={700}>
            {n}
          </Text>{" "}
          {n === 1 ? "volume" : "volumes"} to back up
        </Text>
        <Text size="sm">
          <Text span fw={700}>
            {skipped.length}
          </Text>{" "}
          skipped
        </Text>
        {cycled > 0 && (
          <Text size="sm">
            <Text span fw={700}>
              {cycled}
            </Text>{" "}
            running, powered off for the backup and on again after
          </Text>
        )}
      </Group>
      <SegmentedControl
        aria-label="Volumes shown"
        value={show}
        onChange={(v) => setShow(v as "backup" | "skip")}
        data={[
          { value: "backup", label: `To back up (${n})` },
          { value: "skip", label: `Skipped (${skipped.length})` },
        ]}
      />
      <VolumeList key={show} rows={rowsOf(props.plan, show)} label={show === "backup" ? "Volumes to back up" : "Skipped volumes"} />
      <TextInput
        label="Backup name"
        description="Optional. Left empty, Standby names the backups after their kind and the time."
        value={props.name}
        onChange={(e) => props.onName(e.currentTarget.value)}
        maxLength={120}
      />
      {n > 0 ? (
        <Checkbox
          checked={props.confirmed}
          onChange={(e) => props.onConfirmed(e.currentTarget.checked)}
          label={`Back up ${n} ${n === 1 ? "volume" : "volumes"} now`}
          description={
            cycled > 0
              ? `${cycled} running ${cycled === 1 ? "desktop is" : "desktops are"} powered off for the backup (nobody is in session on them) and powered on again after.`
              : "Each volume gets a snapshot; nothing is powered off."
          }
          data-testid="backup-all-confirm"
        />
      ) : (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          Nothing to back up: every volume is skipped for the reason listed.
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={props.onClose}>
          Close
        </Button>
        <Button onClick={props.onRun} disabled={n === 0 || !props.confirmed}>
          Back up all
        </Button>
      </Group>
    </>
  );
}

/** A long list (thousands of volumes) drawn a screenful at a time. */
function VolumeList(props: { rows: Row[]; label: string }) {
  const scroller = useRef<HTMLDivElement>(null);
  // The virtualiser's functions are not memoisable by design; React Compiler leaves them be.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtual = useVirtualizer({
    count: props.rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  if (props.rows.length === 0)
    return (
      <Text size="sm" c="dimmed" py="sm">
        None.
      </Text>
    );
  return (
    <Box
      ref={scroller}
      role="list"
      aria-label={props.label}
      aria-rowcount={props.rows.length}
      tabIndex={0}
      h={Math.min(320, props.rows.length * ROW_HEIGHT + 2)}
      style={{
        overflowY: "auto",
        border: "1px solid var(--mantine-color-default-border)",
        borderRadius: "var(--mantine-radius-sm)",
      }}
      data-testid="backup-all-list"
    >
      <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
        {virtual.getVirtualItems().map((item) => {
          const r = props.rows[item.index]!;
          return (
            <Group
              key={r.id}
              role="listitem"
              aria-setsize={props.rows.length}
              aria-posinset={item.index + 1}
              gap="sm"
              wrap="nowrap"
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
              <Text size="sm" fw={600} style={{ whiteSpace: "nowrap" }} miw={180}>
                {r.name}
              </Text>
              <Text size="sm" c="dimmed" lineClamp={2} style={{ flex: 1, minWidth: 0 }} title={r.detail}>
                {r.detail}
              </Text>
              {r.to === "backup" && r.powerCycle && (
                <Badge size="sm" variant="light" color="orange" tt="none">
                  Powered off and on
                </Badge>
              )}
              {r.to === "skip" && (
                <Badge size="sm" variant="light" color="gray" tt="none">
                  {r.reason.replace(/_/g, " ")}
                </Badge>
              )}
            </Group>
          );
        })}
      </div>
    </Box>
  );
}

function RunningStep(props: { ticket: string; count: number; cancelling: boolean; onCancel: () => void }) {
  const progress = useTicketProgress(props.ticket);
  return (
    <>
      <Text size="sm">
        Backing up {props.count} {props.count === 1 ? "volume" : "volumes"}. You can close this window: the backup goes
        on, and the notification center follows it.
      </Text>
      <JobProgressBar progress={progress} label="Backup of all volumes" />
      <Group justify="flex-end">
        <Button color="red" variant="light" onClick={props.onCancel} loading={props.cancelling} disabled={props.cancelling}>
          Cancel backup
        </Button>
      </Group>
    </>
  );
}

function SkippedNote(props: { count: number }) {
  if (props.count === 0) return null;
  return (
    <Text size="sm" c="dimmed">
      {props.count} {props.count === 1 ? "volume was" : "volumes were"} skipped, as the dry run listed.
    </Text>
  );
}

function OutcomeStep(props: { outcome: BackupAllOutcome_Serialize; onClose: () => void }) {
  const o = props.outcome;
  const primaries = o.backups.filter((b) => b.site === "primary");
  const replicas = o.backups.length - primaries.length;
  const [show, setShow] = useState<"backup" | "skip">("backup");
  return (
    <>
      <Alert
        color={o.failures.length ? "orange" : "green"}
        variant="light"
        icon={<IconCircleCheck />}
        title={`${primaries.length} ${primaries.length === 1 ? "backup" : "backups"} made`}
        data-testid="backup-all-outcome"
      >
        <Text size="sm">
          {replicas > 0 ? `${replicas} ${replicas === 1 ? "replica" : "replicas"} to the secondary site. ` : ""}
          {o.failures.length > 0 ? `${o.failures.length} failed. ` : ""}
          {o.plan.skipped.length > 0 ? `${o.plan.skipped.length} skipped.` : ""}
        </Text>
      </Alert>
      {o.failures.length > 0 && (
        <Stack gap={4} component="ul" m={0} p={0} style={{ listStyle: "none" }} aria-label="Failures">
          {o.failures.map((f) => (
            <Text component="li" size="sm" key={f.volume_id}>
              <Text span fw={600}>
                {f.volume_name}
              </Text>
              : {f.error}
            </Text>
          ))}
        </Stack>
      )}
      <SegmentedControl
        aria-label="Volumes shown"
        value={show}
        onChange={(v) => setShow(v as "backup" | "skip")}
        data={[
          { value: "backup", label: `Backups made (${primaries.length})` },
          { value: "skip", label: `Skipped (${o.plan.skipped.length})` },
        ]}
      />
      <VolumeList
        key={show}
        label={show === "backup" ? "Backups made" : "Skipped volumes"}
        rows={
          show === "skip"
            ? rowsOf(o, "skip")
            : primaries.map((b) => ({
                to: "backup",
                id: b.id,
                name: b.volume_name,
                detail: `${b.name} · ${b.location} · ${b.state}`,
                powerCycle: false,
              }))
        }
      />
      <Group justify="flex-end">
        <Button onClick={props.onClose}>Close</Button>
      </Group>
    </>
  );
}
