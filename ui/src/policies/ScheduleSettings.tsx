// *Settings* of the Backups tab: the scheduled backups of a cloud account (toggle, first backup
// time, time zone, interval, number retained) with the next five runs and the retention preview
// of a changed count, and the post-session backups per resource type.
import { Alert, Button, Group, Loader, Modal, NativeSelect, Stack, Table, Tabs, Text, TextInput } from "@mantine/core";
import { IconCircleCheck, IconClockPlay, IconInfoCircle, IconUserCheck } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type CloudAccount,
  type PostSessionSettings,
  type ScheduleSettings_Serialize,
} from "../bindings";
import { call, focusFirstError, StepError } from "../wizards/parts";
import { PostSessionPanel } from "./PostSessionSettings";
import { RetentionPreview, when } from "./RetentionPreview";
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

type Loaded = {
  account: string;
  schedule: ScheduleSettings_Serialize | null;
  postSession: PostSessionSettings;
  frameAccount: string;
};

const RUN_STATE: Record<string, string> = {
  running: "Running",
  succeeded: "Succeeded",
  partial: "Partial",
  failed: "Failed",
  missed: "Missed",
};

/** The Backups tab's *Settings* dialog for one cloud account (chosen at the top). */
export function BackupSettings(props: { accounts: CloudAccount[]; initialAccount?: string | null; onClose: () => void }) {
  const [account, setAccount] = useState(props.initialAccount ?? props.accounts[0]?.id ?? "");
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [failed, setFailed] = useState<{ account: string; error: ApiError } | null>(null);
  const [frameAccount, setFrameAccount] = useState("");
  const [frameError, setFrameError] = useState<string | undefined>();
  const body = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let live = true;
    void (async () => {
      const [schedule, postSession, dr] = await Promise.all([
        call(() => commands.scheduleSettings(account)),
        call(() => commands.postSessionSettings(account)),
        call(() => commands.drConfigs()),
      ]);
      if (!live) return;
      if (schedule.status === "error") return setFailed({ account, error: schedule.error });
      if (postSession.status === "error") return setFailed({ account, error: postSession.error });
      // The Frame account these settings are for: the schedule's, else post-session's, else DR's.
      const frame =
        schedule.data?.schedule.in_force.frame_account ??
        postSession.data.frame_account ??
        (dr.status === "ok" ? dr.data.find((c) => c.account_id === account)?.frame_account : undefined) ??
        "";
      setFrameAccount(frame);
      setLoaded({ account, schedule: schedule.data, postSession: postSession.data, frameAccount: frame });
    })();
    return () => {
      live = false;
    };
  }, [account]);

  function checkFrameAccount() {
    if (frameAccount.trim()) return true;
    setFrameError("Enter the Frame account whose volumes these settings are for, e.g. acme-pd.");
    focusFirstError(body.current);
    return false;
  }

  const loadError = failed?.account === account ? failed.error : null;
  const current = loaded?.account === account ? loaded : null;

  return (
    <Modal opened onClose={props.onClose} title="Backup settings" size={760} closeOnClickOutside={false}>
      <Stack gap="md" ref={body}>
        <Group grow align="flex-start">
          <NativeSelect
            label="Cloud account"
            data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
            value={account}
            onChange={(e) => setAccount(e.currentTarget.value)}
            data-autofocus
          />
          <TextInput
            label="Frame account"
            description="Whose volumes are backed up"
            placeholder="acme-pd"
            value={frameAccount}
            onChange={(e) => {
              setFrameAccount(e.currentTarget.value);
              setFrameError(undefined);
            }}
            error={frameError}
            data-testid="settings-frame-account"
          />
        </Group>
        {loadError && <StepError title="The settings of this cloud account could not be read" error={loadError} />}
        {!current && !loadError && <Loader size="sm" aria-label="Reading the settings" />}
        {current && (
          <Tabs defaultValue="scheduled" keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="scheduled" leftSection={<IconClockPlay size={16} />}>
                Scheduled backups
              </Tabs.Tab>
              <Tabs.Tab value="post-session" leftSection={<IconUserCheck size={16} />}>
                Post-session backups
              </Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="scheduled" pt="md">
              <SchedulePanel
                key={account}
                account={account}
                frameAccount={frameAccount}
                stored={current.schedule}
                checkFrameAccount={checkFrameAccount}
                onSaved={(s) => setLoaded({ ...current, schedule: s })}
              />
            </Tabs.Panel>
            <Tabs.Panel value="post-session" pt="md">
              <PostSessionPanel
                key={account}
                account={account}
                frameAccount={frameAccount}
                settings={current.postSession}
                checkFrameAccount={checkFrameAccount}
                onSaved={(s) => setLoaded({ ...current, postSession: s })}
              />
            </Tabs.Panel>
          </Tabs>
        )}
      </Stack>
    </Modal>
  );
}

/** The scheduled-backups tab: the form, the next runs, the retention preview and Save. */
export function SchedulePanel(props: {
  account: string;
  frameAccount: string;
  stored: ScheduleSettings_Serialize | null;
  checkFrameAccount: () => boolean;
  onSaved: (s: ScheduleSettings_Serialize) => void;
}) {
  // A waiting change is what the administrator last asked for: edit that, not the old schedule.
  const latest = props.stored ? (props.stored.schedule.pending?.policy ?? props.stored.schedule.in_force) : null;
  const [form, setForm] = useState<ScheduleForm>(() => (latest ? formOf(latest) : newSchedule()));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<ScheduleSettings_Serialize | null>(null);
  const ref = useRef<HTMLFormElement>(null);

  // The engine is asked only about a schedule it would accept (the Frame account aside: the
  // next runs do not depend on it).
  const valid = Object.values(validateSchedule(form, props.frameAccount || "-")).every((e) => !e);
  const policy = valid ? toPolicy(form, props.frameAccount || "-") : null;
  const keep = form.enabled && valid ? Number(form.keep) : null;
  const currentKeep = props.stored ? props.stored.schedule.in_force.keep : null;

  async function save() {
    const e = validateSchedule(form, props.frameAccount || "-");
    setErrors(e);
    if (!props.checkFrameAccount()) return;
    if (Object.values(e).some(Boolean)) return focusFirstError(ref.current);
    setBusy(true);
    setError(null);
    setSaved(null);
    const out = await call(() => commands.setSchedule(props.account, toPolicy(form, props.frameAccount)));
    setBusy(false);
    if (out.status === "error") return setError(out.error);
    setSaved(out.data);
    props.onSaved(out.data);
  }

  return (
    <form
      ref={ref}
      aria-label="Scheduled backups"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <Stack gap="md">
        {props.stored ? (
          <Text size="sm" data-testid="schedule-in-force">
            In force: {describeSchedule(props.stored.schedule.in_force)}.
            {props.stored.schedule.pending &&
              ` Waiting to take effect on ${props.stored.schedule.pending.effective_date}: ${describeSchedule(
                props.stored.schedule.pending.policy,
              )}.`}
          </Text>
        ) : (
          <Text size="sm" c="dimmed" data-testid="schedule-in-force">
            This cloud account has no schedule yet: the first one takes effect at once.
          </Text>
        )}
        <ScheduleFields
          form={form}
          errors={errors}
          onChange={(f) => {
            setForm(f);
            setErrors({});
            setSaved(null);
          }}
        />
        <Alert variant="light" color="gray" icon={<IconInfoCircle />} p="xs">
          <Text size="sm">
            A changed schedule takes effect the next day: until midnight (in the schedule's time zone) the schedule in
            force still runs. Switching backups off, or on again, takes effect at once.
          </Text>
        </Alert>
        <NextRuns account={props.account} policy={policy} />
        {form.enabled && <RetentionPreview account={props.account} keep={keep} current={currentKeep} />}
        {error && <StepError title="The schedule was not saved" error={error} testId="schedule-error" />}
        {saved && (
          <Alert color="teal" variant="light" icon={<IconCircleCheck />} role="status" data-testid="schedule-saved">
            Saved.{" "}
            {saved.next_local[0] ? `The next scheduled backup runs at ${saved.next_local[0]}.` : "No scheduled backup will run."}
          </Alert>
        )}
        {props.stored && props.stored.runs.length > 0 && (
          <Stack gap={4}>
            <Text size="sm" fw={600}>
              Latest runs
            </Text>
            <Table verticalSpacing={4} fz="sm" aria-label="Latest runs" data-testid="latest-runs">
              <Table.Tbody>
                {props.stored.runs.slice(0, 5).map((r) => (
                  <Table.Tr key={r.due_at}>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{when(r.due_at)}</Table.Td>
                    <Table.Td>{RUN_STATE[r.state] ?? r.state}</Table.Td>
                    <Table.Td>
                      {r.backed_up !== null ? `${r.backed_up} backed up, ${r.skipped ?? 0} skipped, ${r.failed ?? 0} failed` : ""}
                      {r.message ? `${r.backed_up !== null ? " · " : ""}${r.message}` : ""}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        )}
        <Group justify="flex-end">
          <Button type="submit" loading={busy}>
            Save schedule
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
