// *Autogrow settings* of the Volumes tab: enable, threshold, increment, limit maximum size and the
// maximum (Frame's defaults: off, 5 GB, 10 GB, no maximum), the volumes waiting for their VM to
// be deallocated, and *Check now* (the engine's check of the Frame account's volumes).
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Group,
  List,
  Loader,
  Modal,
  NativeSelect,
  NumberInput,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from "@mantine/core";
import { IconCircleCheck, IconInfoCircle } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type AutogrowOutcome_Serialize,
  type AutogrowView_Serialize,
  type CloudAccount,
  type VolumeCheck_Serialize,
} from "../bindings";
import { call, focusFirstError, StepError } from "../wizards/parts";
import type { Errors } from "./schedule";

const GIB = 1024 ** 3;

type Form = {
  enabled: boolean;
  threshold: number | string;
  increment: number | string;
  limit: boolean;
  maximum: number | string;
};

/** The engine's rules (`AutogrowSettings::validate`), next to each field. */
export function validateAutogrow(f: Form): Errors {
  const e: Errors = {};
  const threshold = Number(f.threshold);
  if (f.threshold === "" || !Number.isFinite(threshold) || threshold <= 0)
    e.threshold = "Enter the free space below which a volume grows: more than 0 GB (Frame's default is 5).";
  const increment = Number(f.increment);
  if (f.increment === "" || !Number.isInteger(increment) || increment < 1)
    e.increment = "Enter a whole number of GB to grow by, at least 1 (Frame's default is 10).";
  if (f.limit) {
    const max = Number(f.maximum);
    if (f.maximum === "" || !Number.isInteger(max) || max < 1)
      e.maximum = "Enter the largest size a volume may reach, a whole number of GB of at least 1, or untick the limit.";
  }
  return e;
}

const gb = (bytes: number | null) => (bytes === null ? "unknown" : `${Math.round((bytes / GIB) * 10) / 10} GB`);

/** The dialog. `frameAccount` (from the Volumes tab) fills the field *Check now* needs. */
export function AutogrowSettings(props: {
  accounts: CloudAccount[];
  initialAccount?: string | null;
  frameAccount?: string;
  onClose: () => void;
}) {
  const [account, setAccount] = useState(props.initialAccount ?? props.accounts[0]?.id ?? "");
  const [view, setView] = useState<{ account: string; data: AutogrowView_Serialize } | null>(null);
  const [failed, setFailed] = useState<{ account: string; error: ApiError } | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [frameAccount, setFrameAccount] = useState(props.frameAccount ?? "");
  const [frameError, setFrameError] = useState<string | undefined>();
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<ApiError | null>(null);
  const [outcome, setOutcome] = useState<AutogrowOutcome_Serialize | null>(null);
  const ref = useRef<HTMLFormElement>(null);

  useEffect(() => {
    let live = true;
    void call(() => commands.autogrowSettings(account)).then((out) => {
      if (!live) return;
      if (out.status === "error") return setFailed({ account, error: out.error });
      const s = out.data.settings;
      setView({ account, data: out.data });
      setForm({
        enabled: s.enabled,
        threshold: s.threshold_gb ?? 5,
        increment: s.increment_gb,
        limit: s.max_gb !== null,
        maximum: s.max_gb ?? "",
      });
    });
    return () => {
      live = false;
    };
  }, [account]);

  function change(patch: Partial<Form>) {
    if (!form) return;
    setForm({ ...form, ...patch });
    setErrors({});
    setSaved(false);
  }

  async function save() {
    if (!form) return;
    const e = validateAutogrow(form);
    setErrors(e);
    if (Object.values(e).some(Boolean)) return focusFirstError(ref.current);
    setBusy(true);
    setError(null);
    const out = await call(() =>
      commands.setAutogrow(account, {
        enabled: form.enabled,
        threshold_gb: Number(form.threshold),
        increment_gb: Number(form.increment),
        max_gb: form.limit ? Number(form.maximum) : null,
      }),
    );
    setBusy(false);
    if (out.status === "error") return setError(out.error);
    if (view) setView({ ...view, data: { ...view.data, settings: out.data } });
    setSaved(true);
  }

  async function check() {
    if (!frameAccount.trim()) {
      setFrameError("Enter the Frame account whose volumes to check, e.g. acme-pd.");
      return;
    }
    setChecking(true);
    setCheckError(null);
    setOutcome(null);
    const out = await call(() => commands.checkAutogrow(account, frameAccount.trim()));
    setChecking(false);
    if (out.status === "error") return setCheckError(out.error);
    setOutcome(out.data);
  }

  const loadError = failed?.account === account ? failed.error : null;
  const dirty =
    !!form &&
    !!view &&
    (form.enabled !== view.data.settings.enabled ||
      Number(form.threshold) !== view.data.settings.threshold_gb ||
      Number(form.increment) !== view.data.settings.increment_gb ||
      (form.limit ? Number(form.maximum) : null) !== view.data.settings.max_gb);

  return (
    <Modal opened onClose={props.onClose} title="Autogrow settings" size={720} closeOnClickOutside={false}>
      <Stack gap="md">
        <NativeSelect
          label="Cloud account"
          description="Autogrow is set per cloud account, for every persistent volume of its Frame account."
          data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
          value={account}
          onChange={(e) => {
            setAccount(e.currentTarget.value);
            setSaved(false);
            setError(null);
            setOutcome(null);
            setCheckError(null);
          }}
        />
        {loadError && <StepError title="The autogrow settings could not be read" error={loadError} />}
        {view?.account !== account && !loadError && <Loader size="sm" aria-label="Reading the autogrow settings" />}
        {view && view.account === account && form && (
          <form
            ref={ref}
            aria-label="Autogrow settings"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
          >
            <Stack gap="sm">
              <Switch
                label="Enable autogrow"
                description="Grow a volume when its free space runs low. Volumes are never shrunk."
                checked={form.enabled}
                onChange={(e) => change({ enabled: e.currentTarget.checked })}
                data-testid="autogrow-enabled"
                data-autofocus
              />
              <Group grow align="flex-start">
                <NumberInput
                  label="Threshold (GB free)"
                  description="Grow when less than this is free"
                  min={0}
                  decimalScale={2}
                  allowNegative={false}
                  value={form.threshold}
                  onChange={(v) => change({ threshold: v })}
                  error={errors.threshold}
                />
                <NumberInput
                  label="Increment (GB)"
                  description="Grow by this much each time"
                  min={1}
                  allowDecimal={false}
                  allowNegative={false}
                  value={form.increment}
                  onChange={(v) => change({ increment: v })}
                  error={errors.increment}
                />
              </Group>
              <Checkbox
                label="Limit maximum size"
                description="Never grow a volume past a size"
                checked={form.limit}
                onChange={(e) => change({ limit: e.currentTarget.checked })}
              />
              {form.limit && (
                <NumberInput
                  label="Maximum size (GB)"
                  description="A maximum below a volume's size never shrinks it: that volume just stops growing."
                  min={1}
                  allowDecimal={false}
                  allowNegative={false}
                  value={form.maximum}
                  onChange={(v) => change({ maximum: v })}
                  error={errors.maximum}
                  maw={320}
                />
              )}
              <Text size="xs" c="dimmed">
                GB means GiB (2^30 bytes), as Azure's disk sizes do. Free space comes from the cloud account's guest
                agent; without one nothing is grown. Standby checks every 15 minutes while it runs.
              </Text>
              {error && <StepError title="The autogrow settings were not saved" error={error} testId="autogrow-error" />}
              {saved && (
                <Alert color="teal" variant="light" icon={<IconCircleCheck />} role="status" data-testid="autogrow-saved">
                  Saved. Autogrow is {view.data.settings.enabled ? "on" : "off"}.
                </Alert>
              )}
              <Group justify="flex-end">
                <Button type="submit" loading={busy} disabled={!dirty && !error}>
                  Save autogrow settings
                </Button>
              </Group>
            </Stack>
          </form>
        )}
        {view && view.account === account && view.data.pending.length > 0 && (
          <Alert variant="light" color="orange" icon={<IconInfoCircle />} title="Waiting for deallocation">
            <List size="sm">
              {view.data.pending.map((p) => (
                <List.Item key={p.volume_name}>
                  {p.volume_name} grows to {gb(p.to_bytes)} once its VM is deallocated: {p.why}
                </List.Item>
              ))}
            </List>
          </Alert>
        )}
        {view && view.account === account && (
          <Stack gap="xs">
            <Text size="sm" fw={600}>
              Check now
            </Text>
            <Group align="flex-end" gap="sm">
              <TextInput
                label="Frame account"
                placeholder="acme-pd"
                value={frameAccount}
                onChange={(e) => {
                  setFrameAccount(e.currentTarget.value);
                  setFrameError(undefined);
                }}
                onKeyDown={(e) => e.key === "Enter" && void check()}
                error={frameError}
                w={240}
              />
              <Button variant="default" onClick={() => void check()} loading={checking} disabled={dirty}>
                Check now
              </Button>
            </Group>
            {dirty && (
              <Text size="xs" c="dimmed">
                Save the settings first: a check uses the saved ones.
              </Text>
            )}
            {checking && (
              <Text size="xs" c="dimmed" aria-live="polite">
                Checking: each volume that grows is its own job, reported in the notification center as it ends.
              </Text>
            )}
            {checkError && <StepError title="The volumes could not be checked" error={checkError} testId="check-error" />}
            {outcome && <Outcome outcome={outcome} />}
          </Stack>
        )}
      </Stack>
    </Modal>
  );
}

function Outcome(props: { outcome: AutogrowOutcome_Serialize }) {
  const o = props.outcome;
  const summary = o.not_checked
    ? o.not_checked
    : `${o.grown} grown, ${o.pending} waiting, ${o.failed} failed${o.volumes.length === 0 ? ": no volume is below the threshold." : "."}`;
  return (
    <Stack gap="xs" aria-live="polite" data-testid="autogrow-outcome">
      <Alert
        variant="light"
        color={o.failed > 0 ? "red" : o.not_checked && o.settings.enabled ? "orange" : "teal"}
        title={`Check of ${o.frame_account} on ${o.account_name}`}
      >
        <Text size="sm">{summary}</Text>
        {o.guest_source && (
          <Text size="xs" c="dimmed" mt={4}>
            Free space from: {o.guest_source}
          </Text>
        )}
      </Alert>
      {o.volumes.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table striped verticalSpacing={4} fz="sm" aria-label="Volumes checked">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Volume</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Free</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {o.volumes.map((v) => (
                <Table.Tr key={v.volume_id}>
                  <Table.Td>{v.name}</Table.Td>
                  <Table.Td>{gb(v.size_bytes)}</Table.Td>
                  <Table.Td>{gb(v.free_bytes)}</Table.Td>
                  <Table.Td>
                    <VolumeOutcome v={v} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function VolumeOutcome(props: { v: VolumeCheck_Serialize }) {
  const { decision, action } = props.v;
  switch (action.action) {
    case "grown":
      return (
        <Badge color="teal" variant="light" tt="none">
          {decision.decision === "grow" ? `Grown to ${gb(decision.to_bytes)}` : "Grown"}
        </Badge>
      );
    case "pending":
      return <Text size="sm">Waits: {action.why}</Text>;
    case "failed":
      return (
        <Text size="sm" c="red">
          Failed: {action.error}
        </Text>
      );
    case "cancelled":
      return <Text size="sm">Cancelled</Text>;
    case "nothing":
      if (decision.decision === "fine") return <Text size="sm">Enough free space</Text>;
      if (decision.decision === "at_maximum") return <Text size="sm">At the maximum size ({gb(decision.max_bytes)})</Text>;
      if (decision.decision === "unknown") return <Text size="sm">Free space unknown: {decision.why}</Text>;
      return <Text size="sm">Nothing to do</Text>;
  }
}
