// The Enable DR wizard's *Backup policies* step: scheduled backups and post-session backups per
// resource type for the primary cloud account. Nothing is saved by the step: the summary shows
// the policies and they are saved after Enable succeeds (`savePolicies`).
import { Alert, Button, Divider, Stack, Text, Title } from "@mantine/core";
import { IconCircleCheck } from "@tabler/icons-react";
import { useEffect } from "react";

import { commands, type ApiError, type ResourceKind, type SchedulePolicy } from "../bindings";
import { call, StepError } from "../wizards/parts";
import { describePostSession, PostSessionFields } from "./PostSessionSettings";
import {
  describeSchedule,
  formOf,
  newSchedule,
  NextRuns,
  ScheduleFields,
  toPolicy,
  validateSchedule,
  type Errors,
  type ScheduleForm,
} from "./schedule";

export type BackupPolicies = {
  /** Whose stored settings the form started from (reloaded when the primary changes). */
  account: string;
  schedule: ScheduleForm;
  /** The account had an enabled schedule: switching it off must be saved too. */
  hadSchedule: boolean;
  postSession: ResourceKind[];
};

export function initialPolicies(account: string): BackupPolicies {
  return { account, schedule: newSchedule(), hadSchedule: false, postSession: [] };
}

/** Starts the step from what the account already has, so that Enable never resets it unseen. */
export function useStoredPolicies(account: string, set: (p: BackupPolicies) => void) {
  useEffect(() => {
    if (!account) return;
    let live = true;
    void Promise.all([
      call(() => commands.scheduleSettings(account)),
      call(() => commands.postSessionSettings(account)),
    ]).then(([s, p]) => {
      if (!live) return;
      const stored = s.status === "ok" && s.data ? (s.data.schedule.pending?.policy ?? s.data.schedule.in_force) : null;
      set({
        account,
        schedule: stored ? formOf(stored) : newSchedule(),
        hadSchedule: !!stored?.enabled,
        postSession: p.status === "ok" ? p.data.enabled : [],
      });
    });
    return () => {
      live = false;
    };
    // `set` is a state setter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [account]);
}

export function validatePolicies(p: BackupPolicies, frameAccount: string): Errors {
  return p.schedule.enabled ? validateSchedule(p.schedule, frameAccount) : {};
}

/** The schedule to save, or null when there is nothing to save (off, and none was on). */
export function schedulePolicy(p: BackupPolicies, frameAccount: string): SchedulePolicy | null {
  if (!p.schedule.enabled && !p.hadSchedule) return null;
  return toPolicy(p.schedule, frameAccount);
}

export function BackupPoliciesStep(props: {
  policies: BackupPolicies;
  errors: Errors;
  account: string;
  accountName: string;
  frameAccount: string;
  onChange: (p: BackupPolicies) => void;
}) {
  const p = props.policies;
  const valid = Object.values(validateSchedule(p.schedule, props.frameAccount)).every((e) => !e);
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        How {props.frameAccount} is backed up on {props.accountName}. These are saved after Enable, for every persistent
        resource of the account; change them later under Volumes, Backups, Settings.
      </Text>
      <Title order={5}>Scheduled backups</Title>
      <ScheduleFields
        form={p.schedule}
        errors={props.errors}
        onChange={(schedule) => props.onChange({ ...p, schedule })}
        toggleLabel="Schedule backups"
      />
      {p.schedule.enabled && (
        <NextRuns account={props.account} policy={valid ? toPolicy(p.schedule, props.frameAccount) : null} />
      )}
      <Divider />
      <Title order={5}>Post-session backups</Title>
      <PostSessionFields enabled={p.postSession} onChange={(postSession) => props.onChange({ ...p, postSession })} />
    </Stack>
  );
}

/** The summary's rows for the policies. */
export function policyRows(p: BackupPolicies, frameAccount: string): [string, string][] {
  const s = schedulePolicy(p, frameAccount);
  return [
    ["Scheduled backups", s ? describeSchedule(s) : "Off"],
    ["Post-session backups", describePostSession(p.postSession)],
  ];
}

export type PoliciesSaved = { ok: true; nextRun: string | null } | { ok: false; error: ApiError; what: string };

/** Saves the schedule (when there is one to save), then the post-session switches. */
export async function savePolicies(account: string, frameAccount: string, p: BackupPolicies): Promise<PoliciesSaved> {
  let nextRun: string | null = null;
  const s = schedulePolicy(p, frameAccount);
  if (s) {
    const out = await call(() => commands.setSchedule(account, s));
    if (out.status === "error") return { ok: false, error: out.error, what: "The backup schedule was not saved" };
    nextRun = out.data.next_local[0] ?? null;
  }
  const ps = await call(() => commands.setPostSession(account, { frame_account: frameAccount, enabled: p.postSession }));
  if (ps.status === "error") return { ok: false, error: ps.error, what: "The post-session settings were not saved" };
  return { ok: true, nextRun };
}

/** What happened to the policies after Enable, with a retry when saving failed. */
export function PoliciesOutcome(props: { saved: PoliciesSaved | null; busy: boolean; onRetry: () => void }) {
  const s = props.saved;
  if (!s) return null;
  if (s.ok)
    return (
      <Alert color="teal" variant="light" icon={<IconCircleCheck />} data-testid="policies-saved">
        Backup policies saved.{s.nextRun ? ` The next scheduled backup runs at ${s.nextRun}.` : ""}
      </Alert>
    );
  return (
    <Stack gap="xs">
      <StepError
        title={`${s.what}; disaster recovery is enabled`}
        error={s.error}
        testId="policies-error"
      />
      <Button variant="default" onClick={props.onRetry} loading={props.busy} w="fit-content">
        Save the backup policies again
      </Button>
    </Stack>
  );
}
