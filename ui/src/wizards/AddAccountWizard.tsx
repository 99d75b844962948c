// The Add cloud account wizard. AHV: the cluster's address and credentials, then its certificate
// for the administrator to confirm (nothing is saved before that), then a live test of the saved
// account. Azure: the app registration and subscription, then the live test. A failed test leaves
// the account saved, and says so: its details can be changed (the same wizard edits it) or it can
// be removed from here.
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  Collapse,
  Group,
  Loader,
  Modal,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Stack,
  Stepper,
  Table,
  Text,
  Textarea,
  TextInput,
} from "@mantine/core";
import { IconChevronDown, IconChevronRight, IconCircleCheck, IconInfoCircle } from "@tabler/icons-react";
import { useEffect, useRef, useState, type ChangeEvent } from "react";

import {
  commands,
  type AccountChanges_Deserialize,
  type AccountHealth,
  type ApiError,
  type CertificateInfo,
  type CloudAccount,
} from "../bindings";
import type { Outcome } from "../ipc";
import { call, CheckList, focusFirstError, GUID, splitList, StepError, StepForm, withColons } from "./parts";

type Kind = "ahv" | "azure";
type Errors = Record<string, string | undefined>;
type Failure = { title: string; error: ApiError; advice?: string };

const PUBLIC_ARM = "https://management.azure.com";
const PUBLIC_AUTHORITY = "https://login.microsoftonline.com";

const AHV_STEPS = ["Cluster", "Certificate", "Connection test"];
const AZURE_STEPS = ["Subscription", "Connection test"];

type AhvForm = { name: string; address: string; port: number | string; username: string; password: string };
type AzureForm = {
  name: string;
  tenant: string;
  client: string;
  secret: string;
  subscription: string;
  groups: string;
  region: string;
  arm: string;
  authority: string;
  ca: string;
};

/** The cluster address as the engine takes it: a host, without scheme or path. */
function host(address: string) {
  return address.trim().replace(/^https:\/\//i, "").replace(/\/+$/, "");
}

function validateAhv(f: AhvForm): Errors {
  const e: Errors = {};
  const name = f.name.trim();
  if (!name) e.name = "Give the account a name you will recognise, e.g. AHV Frankfurt.";
  else if ([...name].length > 80) e.name = "Shorten the name to 80 characters or fewer.";
  const h = host(f.address);
  if (!h) e.address = "Enter the cluster's virtual IP address or host name, e.g. 10.1.2.3.";
  else if (/[\s/]/.test(h)) e.address = "Enter only the address, e.g. 10.1.2.3: no spaces and no path after it.";
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    e.port = "The port is a whole number from 1 to 65535 (Prism listens on 9440).";
  if (!f.username.trim()) e.username = "Enter the Prism user name (a user with the Cluster Admin role).";
  if (!f.password) e.password = "Enter the Prism password of that user.";
  return e;
}

function validateAzure(f: AzureForm): Errors {
  const e: Errors = {};
  const name = f.name.trim();
  if (!name) e.name = "Give the account a name you will recognise, e.g. Azure production.";
  else if ([...name].length > 80) e.name = "Shorten the name to 80 characters or fewer.";
  const guid = (v: string, what: string, where: string) =>
    GUID.test(v.trim())
      ? undefined
      : `The ${what} is a GUID like 00000000-0000-0000-0000-000000000000: copy it from ${where} in the Azure portal.`;
  e.tenant = guid(f.tenant, "tenant ID", "the app registration's Overview page");
  e.client = guid(f.client, "client (application) ID", "the app registration's Overview page");
  e.subscription = guid(f.subscription, "subscription ID", "Subscriptions");
  if (!f.secret) e.secret = "Enter the client secret's value (not its ID), from Certificates & secrets of the app registration.";
  if (splitList(f.groups).length === 0)
    e.groups = "Name at least one resource group that holds the Frame account's disks; separate several with commas.";
  if (!f.region.trim()) e.region = "Enter the region of the Frame account's disks, e.g. westeurope.";
  else if (!/^[a-z0-9 ]+$/i.test(f.region.trim())) e.region = "A region name has only letters and digits, e.g. westeurope.";
  const https = (v: string, what: string) => {
    if (!v.trim()) return undefined;
    try {
      return new URL(v.trim()).protocol === "https:" ? undefined : `The ${what} must start with https://.`;
    } catch {
      return `The ${what} is not a URL: write it as https://host.`;
    }
  };
  e.arm = https(f.arm, "Resource Manager endpoint");
  e.authority = https(f.authority, "authority");
  if (f.ca.trim() && !(f.ca.includes("-----BEGIN CERTIFICATE-----") && f.ca.includes("-----END CERTIFICATE-----")))
    e.ca = "Paste the whole CA certificate in PEM form, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.";
  return e;
}

const hasErrors = (e: Errors) => Object.values(e).some(Boolean);

export function AddAccountWizard(props: { onClose: () => void; onChanged: () => void }) {
  const [kind, setKind] = useState<Kind>("ahv");
  const [active, setActive] = useState(0);
  const [ahv, setAhv] = useState<AhvForm>({ name: "", address: "", port: 9440, username: "admin", password: "" });
  const [azure, setAzure] = useState<AzureForm>({
    name: "",
    tenant: "",
    client: "",
    secret: "",
    subscription: "",
    groups: "",
    region: "",
    arm: "",
    authority: "",
    ca: "",
  });
  const [errors, setErrors] = useState<Errors>({});
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const [cert, setCert] = useState<CertificateInfo | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Set once the account is saved: from then on the wizard edits it instead of adding another.
  const [account, setAccount] = useState<CloudAccount | null>(null);
  const [advanced, setAdvanced] = useState(false);
  const body = useRef<HTMLDivElement>(null);

  const steps = kind === "ahv" ? AHV_STEPS : AZURE_STEPS;
  const testStep = steps.length - 1;

  function go(step: number) {
    setFailure(null);
    setActive(step);
  }

  async function probe() {
    const e = validateAhv(ahv);
    setErrors(e);
    setNotice(null);
    if (hasErrors(e)) return focusFirstError(body.current);
    setBusy(true);
    setFailure(null);
    const out = await call(() => commands.probeCertificate(host(ahv.address), Number(ahv.port)));
    setBusy(false);
    if (out.status === "error") {
      setFailure({
        title: `The certificate of ${host(ahv.address)}:${ahv.port} could not be read`,
        advice:
          "Check the address and the port, that the cluster is up, and that this computer can reach it on that port (Prism uses 9440).",
        error: out.error,
      });
      return;
    }
    setCert(out.data);
    go(1);
  }

  function reject() {
    setCert(null);
    setNotice(
      account
        ? `You rejected the certificate: ${account.name} keeps the certificate it trusted before. Check the address, or ask the cluster's administrator for the fingerprint Prism shows (Settings > SSL Certificate).`
        : "You rejected the certificate: nothing was saved. Check the address, or ask the cluster's administrator for the fingerprint Prism shows (Settings > SSL Certificate).",
    );
    go(0);
  }

  async function saveAhv(trusted: string) {
    setBusy(true);
    setFailure(null);
    const out = await call(() =>
      account
        ? commands.editCloudAccount(account.id, {
            name: ahv.name.trim(),
            address: host(ahv.address),
            port: Number(ahv.port),
            username: ahv.username.trim(),
            password: ahv.password,
            trusted_sha256: trusted,
          } satisfies AccountChanges_Deserialize)
        : commands.addAhvAccount({
            name: ahv.name.trim(),
            address: host(ahv.address),
            port: Number(ahv.port),
            username: ahv.username.trim(),
            password: ahv.password,
            trusted_sha256: trusted,
          }),
    );
    saved(out);
  }

  /** After an add or an edit of either kind: on to the live test, or the error where it happened. */
  function saved(out: Outcome<CloudAccount>) {
    setBusy(false);
    if (out.status === "error") {
      setFailure({ title: account ? `${account.name} was not changed` : "The account was not added", error: out.error });
      return;
    }
    setAccount(out.data);
    props.onChanged();
    go(testStep);
  }

  async function saveAzure() {
    const e = validateAzure(azure);
    setErrors(e);
    if (hasErrors(e)) {
      // A mistake hidden under Advanced must be visible to be fixed.
      if (e.arm || e.authority || e.ca) setAdvanced(true);
      return focusFirstError(body.current);
    }
    setBusy(true);
    setFailure(null);
    const common = {
      name: azure.name.trim(),
      tenant_id: azure.tenant.trim(),
      client_id: azure.client.trim(),
      client_secret: azure.secret,
      subscription_id: azure.subscription.trim(),
      resource_groups: splitList(azure.groups),
      primary_region: azure.region.trim(),
    };
    const out = await call(() =>
      account
        ? commands.editCloudAccount(account.id, {
            ...common,
            arm_url: azure.arm.trim() || PUBLIC_ARM,
            authority_url: azure.authority.trim() || PUBLIC_AUTHORITY,
            extra_ca_pem: azure.ca.trim(),
          })
        : commands.addAzureAccount({
            ...common,
            arm_url: azure.arm.trim() || null,
            authority_url: azure.authority.trim() || null,
            extra_ca_pem: azure.ca.trim() || null,
          }),
    );
    saved(out);
  }

  async function remove() {
    if (!account) return;
    setBusy(true);
    const out = await call(() => commands.removeCloudAccount(account.id));
    setBusy(false);
    if (out.status === "error") {
      setFailure({ title: `${account.name} was not removed`, error: out.error });
      return;
    }
    props.onChanged();
    props.onClose();
  }

  const setA = (k: keyof AhvForm) => (v: string | number) => setAhv((f) => ({ ...f, [k]: v }));
  const setZ = (k: keyof AzureForm) => (v: string) => setAzure((f) => ({ ...f, [k]: v }));
  const text = (set: (v: string) => void) => (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    set(e.currentTarget.value);
  // A text field's value, edits and error, by the form's key.
  const bindA = (k: Exclude<keyof AhvForm, "port">) => ({ value: ahv[k], onChange: text(setA(k)), error: errors[k] });
  const bindZ = (k: keyof AzureForm) => ({ value: azure[k], onChange: text(setZ(k)), error: errors[k] });

  const cancel = (
    <Button variant="default" onClick={props.onClose}>
      {account ? "Close" : "Cancel"}
    </Button>
  );

  return (
    <Modal
      opened
      onClose={props.onClose}
      title={account ? `Cloud account ${account.name}` : "Add a cloud account"}
      size="xl"
      closeOnClickOutside={false}
    >
      <div ref={body}>
        <Stepper
          active={active}
          onStepClick={(s) => s < active && go(s)}
          allowNextStepsSelect={false}
          size="sm"
          mb="lg"
        >
          {steps.map((s) => (
            <Stepper.Step key={s} label={s} />
          ))}
        </Stepper>
        {failure && active !== testStep && (
          <StepError title={failure.title} error={failure.error} advice={failure.advice} testId="wizard-error" />
        )}

        {active === 0 && (
          <StepForm
            label={kind === "ahv" ? "AHV cluster details" : "Azure subscription and app registration"}
            onSubmit={kind === "ahv" ? probe : saveAzure}
            footer={
              <>
                {cancel}
                <Button type="submit" loading={busy}>
                  {kind === "ahv" ? "Next: check the certificate" : account ? "Save and test" : "Add and test"}
                </Button>
              </>
            }
          >
            <SegmentedControl
              aria-label="Infrastructure"
              value={kind}
              disabled={account !== null}
              onChange={(v) => {
                setKind(v as Kind);
                setErrors({});
                setFailure(null);
                setNotice(null);
              }}
              data={[
                { value: "ahv", label: "Nutanix AHV cluster" },
                { value: "azure", label: "Azure subscription" },
              ]}
            />
            {notice && (
              <Alert color="yellow" variant="light" icon={<IconInfoCircle />} data-testid="wizard-notice">
                {notice}
              </Alert>
            )}
            {account && (
              <Text size="sm" c="dimmed">
                {account.name} is saved. Change what needs changing and save again; the connection test runs after.
              </Text>
            )}
            {kind === "ahv" ? (
              <>
                <TextInput
                  label="Account name"
                  description="How Standby names this cluster in lists and notifications."
                  required
                  {...bindA("name")}
                  data-autofocus
                />
                <Group grow align="flex-start">
                  <TextInput
                    label="Cluster address"
                    description="The cluster's virtual IP or host name, e.g. 10.1.2.3."
                    required
                    {...bindA("address")}
                    style={{ flexGrow: 3 }}
                  />
                  <NumberInput
                    label="Port"
                    description="Prism: 9440."
                    required
                    min={1}
                    max={65535}
                    allowDecimal={false}
                    value={ahv.port}
                    onChange={setA("port")}
                    error={errors.port}
                  />
                </Group>
                <TextInput
                  label="User name"
                  required
                  autoComplete="off"
                  {...bindA("username")}
                />
                <PasswordInput
                  label="Password"
                  description="Kept in the system keyring, never in Standby's files."
                  required
                  {...bindA("password")}
                />
              </>
            ) : (
              <>
                <TextInput
                  label="Account name"
                  description="How Standby names this subscription in lists and notifications."
                  required
                  {...bindZ("name")}
                  data-autofocus
                />
                <Group grow align="flex-start">
                  <TextInput label="Tenant ID" required {...bindZ("tenant")} />
                  <TextInput
                    label="Client (application) ID"
                    required
                    {...bindZ("client")}
                  />
                </Group>
                <PasswordInput
                  label="Client secret"
                  description="The secret's value. Kept in the system keyring, never in Standby's files."
                  required
                  {...bindZ("secret")}
                />
                <TextInput
                  label="Subscription ID"
                  required
                  {...bindZ("subscription")}
                />
                <Group grow align="flex-start">
                  <TextInput
                    label="Resource groups"
                    description="Those holding the Frame account's disks, separated by commas."
                    required
                    {...bindZ("groups")}
                  />
                  <TextInput
                    label="Region"
                    description="Where those disks are, e.g. westeurope."
                    required
                    {...bindZ("region")}
                  />
                </Group>
                <div>
                  <Button
                    variant="subtle"
                    size="compact-sm"
                    px={4}
                    leftSection={advanced ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                    aria-expanded={advanced}
                    aria-controls="azure-advanced"
                    onClick={() => setAdvanced((a) => !a)}
                  >
                    Advanced
                  </Button>
                  <Text size="xs" c="dimmed">
                    Endpoints of a sovereign cloud or a proxy, and an extra trusted CA. Leave empty for Azure's public
                    cloud.
                  </Text>
                </div>
                <Collapse expanded={advanced} id="azure-advanced">
                  <Stack gap="md">
                    <TextInput
                      label="Resource Manager endpoint"
                      placeholder={PUBLIC_ARM}
                      {...bindZ("arm")}
                    />
                    <TextInput
                      label="Authority (Entra ID)"
                      placeholder={PUBLIC_AUTHORITY}
                      {...bindZ("authority")}
                    />
                    <Textarea
                      label="Extra trusted CA (PEM)"
                      description="Only if a proxy or a private cloud presents certificates of its own CA."
                      rows={4}
                      styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
                      {...bindZ("ca")}
                    />
                  </Stack>
                </Collapse>
              </>
            )}
          </StepForm>
        )}

        {kind === "ahv" && active === 1 && cert && (
          <CertificateStep
            cert={cert}
            address={`${host(ahv.address)}:${ahv.port}`}
            busy={busy}
            onReject={reject}
            onTrust={() => saveAhv(cert.sha256)}
            onBack={() => go(0)}
          />
        )}

        {active === testStep && account && (
          <TestStep
            account={account}
            busy={busy}
            failure={failure}
            onEdit={() => go(0)}
            onRemove={remove}
            onDone={props.onClose}
          />
        )}
      </div>
    </Modal>
  );
}

function CertificateStep(props: {
  cert: CertificateInfo;
  address: string;
  busy: boolean;
  onTrust: () => void;
  onReject: () => void;
  onBack: () => void;
}) {
  const [confirmed, setConfirmed] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const c = props.cert;
  // When the certificate was shown: its validity is judged once, not on every render.
  const [now] = useState(() => Date.now());
  const expired = Date.parse(c.not_after) < now;
  const early = Date.parse(c.not_before) > now;
  return (
    <StepForm
      label="Confirm the cluster's certificate"
      onSubmit={() => {
        if (!confirmed) {
          setError("Tick the box once you have compared the fingerprint, or reject the certificate.");
          return;
        }
        props.onTrust();
      }}
      footer={
        <>
          <Group gap="xs">
            <Button variant="default" onClick={props.onBack}>
              Back
            </Button>
            <Button variant="light" color="red" onClick={props.onReject}>
              Reject
            </Button>
          </Group>
          <Button type="submit" loading={props.busy}>
            Trust and save
          </Button>
        </>
      }
    >
      <Text size="sm">
        {props.address} presented this certificate. Standby will talk to this cluster only while it presents exactly
        this one. Compare the fingerprint with the one Prism shows (Settings &gt; SSL Certificate) before you trust it.
      </Text>
      <Table variant="vertical" withTableBorder layout="fixed" data-testid="certificate">
        <Table.Tbody>
          <Table.Tr>
            <Table.Th w={150}>Subject</Table.Th>
            <Table.Td style={{ overflowWrap: "anywhere" }}>{c.subject}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Issuer</Table.Th>
            <Table.Td style={{ overflowWrap: "anywhere" }}>
              {c.issuer}{" "}
              {c.self_signed && (
                <Badge variant="light" color="gray" tt="none">
                  self-signed
                </Badge>
              )}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Valid</Table.Th>
            <Table.Td>
              {new Date(c.not_before).toLocaleString()} to {new Date(c.not_after).toLocaleString()}{" "}
              {(expired || early) && (
                <Badge color="red" variant="light" tt="none">
                  {expired ? "expired" : "not valid yet"}
                </Badge>
              )}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>SHA-256 fingerprint</Table.Th>
            <Table.Td>
              <Code style={{ overflowWrap: "anywhere", whiteSpace: "normal" }} data-testid="fingerprint">
                {withColons(c.sha256)}
              </Code>
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      {(expired || early) && (
        <Alert color="yellow" variant="light">
          This certificate is {expired ? "expired" : "not valid yet"}. Standby can still trust it, since it checks the
          fingerprint, but check the cluster's clock and certificate.
        </Alert>
      )}
      <Checkbox
        label="I compared this fingerprint with the cluster's and I trust this certificate"
        checked={confirmed}
        onChange={(e) => {
          setConfirmed(e.currentTarget.checked);
          setError(undefined);
        }}
        error={error}
        data-autofocus
      />
    </StepForm>
  );
}

/** The live test of the saved account; a failure keeps the account and offers to fix or remove it. */
function TestStep(props: {
  account: CloudAccount;
  busy: boolean;
  failure: Failure | null;
  onEdit: () => void;
  onRemove: () => void;
  onDone: () => void;
}) {
  const [running, setRunning] = useState(true);
  const [result, setResult] = useState<AccountHealth | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [generation, setGeneration] = useState(0);
  const { id } = props.account;

  useEffect(() => {
    let live = true;
    call(() => commands.testCloudAccount(id)).then((out) => {
      if (!live) return;
      setRunning(false);
      if (out.status === "ok") setResult(out.data);
      else setError(out.error);
    });
    return () => {
      live = false;
    };
  }, [id, generation]);

  function again() {
    setRunning(true);
    setResult(null);
    setError(null);
    setGeneration((g) => g + 1);
  }

  const name = props.account.name;
  const passed = result?.ok === true;
  return (
    <StepForm
      label="Connection test"
      busy={running}
      onSubmit={passed ? props.onDone : again}
      footer={
        passed ? (
          <>
            <span />
            <Button type="submit">Done</Button>
          </>
        ) : (
          <>
            <Group gap="xs">
              <Button variant="default" onClick={props.onDone} disabled={running}>
                Close and keep it
              </Button>
              {confirmRemove ? (
                <>
                  <Button color="red" onClick={props.onRemove} loading={props.busy}>
                    Remove {name}
                  </Button>
                  <Button variant="subtle" onClick={() => setConfirmRemove(false)}>
                    Keep it
                  </Button>
                </>
              ) : (
                <Button variant="light" color="red" onClick={() => setConfirmRemove(true)} disabled={running}>
                  Remove account
                </Button>
              )}
            </Group>
            <Group gap="xs">
              <Button variant="default" onClick={props.onEdit} disabled={running}>
                Edit details
              </Button>
              <Button type="submit" loading={running}>
                Test again
              </Button>
            </Group>
          </>
        )
      }
    >
      <div aria-live="polite">
        {running && (
          <Group gap="xs">
            <Loader size="sm" aria-hidden />
            <Text size="sm">Testing {name}: reaching it, signing in, reading what Standby needs…</Text>
          </Group>
        )}
        {passed && (
          <Alert color="teal" variant="light" icon={<IconCircleCheck />} title={`${name} is added and works`}>
            Every check passed. It is listed under Cloud accounts; enable disaster recovery for its Frame account
            from the Disaster recovery page.
          </Alert>
        )}
        {result && !result.ok && (
          <Alert color="orange" variant="light" title={`${name} is saved, but the test failed`} data-testid="test-failed">
            The account stays in Standby with these settings. Fix what the failed check says (Edit details), then test
            again, or remove the account.
          </Alert>
        )}
        {error && (
          <StepError
            title={`${name} is saved, but it could not be tested`}
            advice={
              error.code === "unavailable"
                ? "The account stays in Standby. Check that this computer can reach it, then test again; or edit its details, or remove it."
                : undefined
            }
            error={error}
          />
        )}
      </div>
      {result && <CheckList checks={result.checks} label={`Checks of ${name}`} />}
      {confirmRemove && (
        <Text size="sm" c="red">
          Removing {name} deletes it from Standby and its secret from the system keyring.
        </Text>
      )}
      {props.failure && <StepError title={props.failure.title} error={props.failure.error} />}
    </StepForm>
  );
}
