// One-click restore: the engine's pre-flight, one confirmation, progress until the volume is back,
// then the outcome with its undo path (restoring the safety backup, in this same dialog).
import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  List,
  Loader,
  Modal,
  Stack,
  Table,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from "@mantine/core";
import { IconAlertTriangle, IconArrowBackUp, IconCircleCheck, IconCircleX, IconRestore } from "@tabler/icons-react";
import { useEffect, useState, type ReactNode } from "react";

import {
  commands,
  type ApiError,
  type RestoreCheck,
  type RestoreOutcome_Serialize,
  type RestorePlan_Serialize,
} from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { JobProgressBar, newTicket, useTicketProgress } from "../operations/progress";
import { KIND, RESOURCE, SITE, when } from "./words";

export type RestoreOutcome = RestoreOutcome_Serialize;

/**
 * The restore of one backup or replica. `backupId` is what `listBackups` and the timeline give.
 * After a restore, its safety backup can be restored from here (the undo path): the dialog then
 * shows that backup's own pre-flight.
 */
export function RestoreDialog(props: {
  backupId: string;
  onClose: () => void;
  onRestored?: (o: RestoreOutcome) => void;
}) {
  // The undo path restores another backup in this same dialog.
  const [backupId, setBackupId] = useState(props.backupId);
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState<string | null>(null);
  return (
    <Modal
      opened
      onClose={props.onClose}
      title={name ? `Restore «${name}»` : "Restore a backup"}
      size="xl"
      closeOnClickOutside={!busy}
      closeOnEscape={!busy}
      withCloseButton={!busy}
    >
      <RestoreFlow
        key={backupId}
        backupId={backupId}
        onName={setName}
        onBusy={setBusy}
        onClose={props.onClose}
        onRestored={props.onRestored}
        onUndo={setBackupId}
      />
    </Modal>
  );
}

type Phase =
  | { at: "planning" }
  | { at: "plan-failed"; error: ApiError }
  | { at: "ready"; plan: RestorePlan_Serialize }
  | { at: "running"; plan: RestorePlan_Serialize; ticket: string; cancelling: boolean }
  | { at: "restored"; plan: RestorePlan_Serialize; outcome: RestoreOutcome }
  | { at: "failed"; plan: RestorePlan_Serialize; error: ApiError };

function RestoreFlow(props: {
  backupId: string;
  onName: (name: string | null) => void;
  onBusy: (busy: boolean) => void;
  onClose: () => void;
  onRestored?: (o: RestoreOutcome) => void;
  onUndo: (safetyBackupId: string) => void;
}) {
  const [phase, setPhase] = useState<Phase>({ at: "planning" });
  const [typed, setTyped] = useState("");
  const progress = useTicketProgress(phase.at === "running" ? phase.ticket : null);
  const { onName, onBusy } = props;

  useEffect(() => {
    let live = true;
    onName(null);
    commands
      .planRestore(props.backupId)
      .then((out) => {
        if (!live) return;
        if (out.status === "ok") {
          setPhase({ at: "ready", plan: out.data });
          onName(out.data.backup_name);
        } else setPhase({ at: "plan-failed", error: out.error });
      })
      .catch((e: unknown) => live && setPhase({ at: "plan-failed", error: toApiError(e) }));
    return () => {
      live = false;
    };
  }, [props.backupId, onName]);

  useEffect(() => {
    onBusy(phase.at === "running");
  }, [phase.at, onBusy]);

  if (phase.at === "planning")
    return (
      <Group gap="sm" py="md" role="status">
        <Loader size="sm" aria-hidden />
        <Text size="sm">Checking what this restore would do…</Text>
      </Group>
    );
  if (phase.at === "plan-failed")
    return (
      <Stack>
        <ErrorNotice title="The restore could not be checked" error={phase.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Close
          </Button>
        </Group>
      </Stack>
    );

  const plan = phase.plan;
  const confirmed = !plan.replaces_assigned_desktop || typed === plan.volume_name;
  const blocked = plan.checks.filter((c) => c.status === "blocked");

  async function restore() {
    if (!plan.can_run || !confirmed) return;
    const ticket = newTicket();
    setPhase({ at: "running", plan, ticket, cancelling: false });
    let out;
    try {
      out = await commands.restoreBackup(ticket, plan.backup_id, plan.replaces_assigned_desktop ? typed : null);
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    if (out.status === "ok") {
      setPhase({ at: "restored", plan, outcome: out.data });
      props.onRestored?.(out.data);
    } else setPhase({ at: "failed", plan, error: out.error });
  }

  async function cancel() {
    if (phase.at !== "running") return;
    setPhase({ ...phase, cancelling: true });
    // The job stops at its next step; its outcome (cancelled) arrives through restoreBackup.
    await commands.cancelOperation(phase.ticket).catch(() => false);
  }

  return (
    <Stack gap="md">
      {phase.at === "restored" && (
        <Restored outcome={phase.outcome} onUndo={props.onUndo} />
      )}
      <PlanSummary plan={plan} />
      {phase.at === "ready" && (
        <>
          <Steps steps={plan.steps} />
          <Checks checks={plan.checks} />
          {plan.can_run && plan.replaces_assigned_desktop && (
            <TextInput
              label={`Type ${plan.volume_name} to confirm`}
              description="This replaces the disk of a volume assigned to a user. Type the volume's name exactly."
              value={typed}
              onChange={(e) => setTyped(e.currentTarget.value)}
              onKeyDown={(e) => e.key === "Enter" && void restore()}
              autoComplete="off"
              spellCheck={false}
              data-autofocus
              data-testid="confirm-volume"
            />
          )}
          {!plan.can_run ? (
            <Text size="sm" c="red" id="restore-blocked" role="status">
              Restore is blocked by {blocked.length === 1 ? "one check" : `${blocked.length} checks`}:{" "}
              {blocked.map((c) => c.name).join(", ")}. Resolve {blocked.length === 1 ? "it" : "them"} (see above) and
              open this dialog again.
            </Text>
          ) : (
            !confirmed && (
              <Text size="sm" c="dimmed" id="restore-blocked">
                Type the volume&apos;s name above to enable Restore.
              </Text>
            )
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>
              Close
            </Button>
            <Button
              color={plan.in_place ? "red" : undefined}
              leftSection={<IconRestore size={16} />}
              disabled={!plan.can_run || !confirmed}
              aria-describedby={!plan.can_run || !confirmed ? "restore-blocked" : undefined}
              onClick={() => void restore()}
            >
              Restore
            </Button>
          </Group>
        </>
      )}
      {phase.at === "running" && (
        <Stack gap="sm" aria-live="polite">
          <JobProgressBar progress={progress} label={`Restoring ${plan.volume_name}`} />
          <Text size="sm" c="dimmed">
            {phase.cancelling
              ? "Cancelling: the restore stops at its next step; what it did is kept."
              : "The restore runs in Standby: you can keep working, and its outcome also goes to the notification center."}
          </Text>
          <Group justify="flex-end">
            <Button variant="subtle" onClick={props.onClose} title="The restore goes on; the notification center has its outcome">
              Close, keep running
            </Button>
            <Button variant="default" color="red" onClick={() => void cancel()} loading={phase.cancelling}>
              Cancel restore
            </Button>
          </Group>
        </Stack>
      )}
      {phase.at === "restored" && (
        <Group justify="flex-end">
          <Button onClick={props.onClose}>Close</Button>
        </Group>
      )}
      {phase.at === "failed" && (
        <Stack>
          <ErrorNotice title="The restore did not complete" error={phase.error} />
          <Text size="sm" c="dimmed">
            What the restore did is kept: a safety backup taken before the failure stays available, and the
            notification center says which step failed.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={props.onClose}>
              Close
            </Button>
          </Group>
        </Stack>
      )}
    </Stack>
  );
}

function PlanSummary(props: { plan: RestorePlan_Serialize }) {
  const p = props.plan;
  const rows: [string, ReactNode][] = [
    [
      "Volume",
      <>
        <Text span fw={600}>
          {p.volume_name}
        </Text>
        {p.kind && ` · ${RESOURCE[p.kind]}`}
        {p.owner && ` · ${p.owner}`}
      </>,
    ],
    ["Point in time", `${when(p.point_in_time)} («${p.backup_name}»)`],
    [
      "From",
      <>
        <Badge variant="light" color={p.site === "primary" ? "blue" : "grape"} tt="none" mr={6}>
          {p.site === "primary" ? "Primary backup" : "Secondary replica"}
        </Badge>
        {p.from_location}
      </>,
    ],
    [
      "Restored on",
      `${p.restored_on}, ${p.in_place ? "in place: the volume's current disk is replaced" : "as a copy beside the volume: nothing in use is replaced"}`,
    ],
    [
      "Desktop",
      !p.vm
        ? "No VM is powered off"
        : p.powers_off
          ? `${p.vm} is powered off${p.powers_on_after ? ", and powered on again after" : " and stays off after"}`
          : `${p.vm} is off and stays off`,
    ],
    ["Safety snapshot", p.safety_snapshot ?? "None: nothing is replaced"],
  ];
  return (
    <Table variant="vertical" withTableBorder layout="fixed" data-testid="restore-summary">
      <Table.Tbody>
        {rows.map(([k, v]) => (
          <Table.Tr key={k}>
            <Table.Th w={150}>{k}</Table.Th>
            <Table.Td>{v}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Steps(props: { steps: string[] }) {
  return (
    <div>
      <Title order={3} size="h6" mb={4}>
        What it will do
      </Title>
      <List type="ordered" size="sm" spacing={2}>
        {props.steps.map((s, i) => (
          <List.Item key={i}>{s}</List.Item>
        ))}
      </List>
    </div>
  );
}

const CHECK = {
  ok: { color: "green", Icon: IconCircleCheck, label: "passed" },
  warning: { color: "yellow", Icon: IconAlertTriangle, label: "warning" },
  blocked: { color: "red", Icon: IconCircleX, label: "blocked" },
} as const;

function Checks(props: { checks: RestoreCheck[] }) {
  return (
    <div>
      <Title order={3} size="h6" mb={4}>
        Checks
      </Title>
      <Stack gap={6} component="ul" style={{ listStyle: "none", padding: 0, margin: 0 }} data-testid="restore-checks">
        {props.checks.map((c, i) => {
          const s = CHECK[c.status];
          return (
            <Group key={i} component="li" gap="xs" wrap="nowrap" align="flex-start" data-check={c.status}>
              <ThemeIcon color={s.color} variant="light" size="sm" radius="xl" aria-label={s.label} role="img">
                <s.Icon size={14} />
              </ThemeIcon>
              <Text size="sm" c={c.status === "blocked" ? "red" : undefined}>
                <Text span fw={600}>
                  {c.name}
                </Text>
                {": "}
                {c.message}
              </Text>
            </Group>
          );
        })}
      </Stack>
    </div>
  );
}

function Restored(props: { outcome: RestoreOutcome; onUndo: (id: string) => void }) {
  const o = props.outcome;
  const safety = o.safety_backup;
  return (
    <Stack gap="sm" aria-live="polite">
      <Alert color="green" variant="light" icon={<IconCircleCheck />} title={`${o.plan.volume_name} was restored`}>
        <Stack gap={4}>
          <Text size="sm">
            Restored volume: <Code title={o.restored_volume}>{shortName(o.restored_volume)}</Code>
          </Text>
          {o.old_volume_kept && (
            <Text size="sm">
              The replaced disk is kept, detached: <Code title={o.old_volume_kept}>{shortName(o.old_volume_kept)}</Code>. Delete it yourself once the
              restore is confirmed good.
            </Text>
          )}
          {o.plan.vm && (
            <Text size="sm">
              {o.powered_on ? `${o.plan.vm} was powered on again.` : `${o.plan.vm} is powered off.`}
            </Text>
          )}
          <Text size="xs" c="dimmed">
            Job {o.job_id}
          </Text>
        </Stack>
      </Alert>
      {safety ? (
        <Alert color="gray" variant="light" icon={<IconArrowBackUp />} title="How to undo">
          <Text size="sm">
            Before replacing anything, Standby took the safety backup «{safety.name}» ({KIND[safety.kind].toLowerCase()},{" "}
            {SITE[safety.site].toLowerCase()}, {when(safety.created_at)}) of the volume as it was. Restoring it puts the
            volume back as it was before this restore.
          </Text>
          <Button
            mt="sm"
            variant="light"
            leftSection={<IconArrowBackUp size={16} />}
            onClick={() => props.onUndo(safety.id)}
          >
            Restore the safety backup
          </Button>
        </Alert>
      ) : (
        <Text size="sm" c="dimmed">
          No safety backup was needed: nothing in use was replaced.
        </Text>
      )}
    </Stack>
  );
}

/** The last part of an ARM id (the disk's name); anything else as it is. */
function shortName(id: string): string {
  return id.includes("/") ? (id.split("/").filter(Boolean).pop() ?? id) : id;
}
