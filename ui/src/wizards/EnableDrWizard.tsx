// The Enable DR wizard: the Frame account and its primary infrastructure, then for AHV the remote
// sites, the vStore mapping and Test connection (the reverse site included), for Azure the
// secondary region and its quota headroom, then a summary and Enable. Every answer shown comes
// from the engine; Enable runs the engine's whole procedure again, so a test passed here is a
// preview, not a promise kept by the window. The backup policies (scheduled, post-session per
// resource type; `../policies/BackupPoliciesStep`) are shown in the summary and saved after Enable.
import { Alert, Button, Code, Group, List, Modal, NativeSelect, Stack, Stepper, Table, Text, TextInput } from "@mantine/core";
import { IconCircleCheck } from "@tabler/icons-react";
import { useRef, useState, type ReactNode } from "react";

import {
  commands,
  type AccountSettings_Serialize,
  type ApiError,
  type BothClusterContainers_Serialize,
  type CloudAccount,
  type DrConnectionCheck_Serialize,
  type DrEnabled,
  type ExportedDr,
  type RegionCheck_Serialize,
} from "../bindings";
import { call, CheckList, focusFirstError, StepError, StepForm } from "./parts";
import { RegionStep, normalizeRegion, validateRegion, type RegionForm } from "./region";
import {
  ahvRequest,
  BackTo,
  initialMapping,
  MappingStep,
  reverseOf,
  SitesStep,
  TestStep,
  validateSites,
  type SitesForm,
} from "./remoteSites";
import {
  BackupPoliciesStep,
  initialPolicies,
  PoliciesOutcome,
  policyRows,
  savePolicies,
  useStoredPolicies,
  validatePolicies,
  type PoliciesSaved,
} from "../policies/BackupPoliciesStep";

type Errors = Record<string, string | undefined>;
type Failure = { title: string; error: ApiError; advice?: string };

const AHV_STEPS = ["Accounts", "Remote sites", "vStore mapping", "Test connection", "Backup policies", "Summary"];
const AZURE_STEPS = ["Accounts", "Secondary region", "Backup policies", "Summary"];

/** What the first step found: the account's resources and the settings the next steps start from. */
type Prepared = {
  key: string;
  protectedCount: number;
  notProtected: number;
  accountContainers: string[];
  primary: AccountSettings_Serialize;
  secondary?: AccountSettings_Serialize;
  containers?: BothClusterContainers_Serialize;
};

/** What an imported DR configuration asks for: the wizard starts from it, and checks it as usual. */
export type DrPrefill = { accountId: string; dr: ExportedDr };

export function EnableDrWizard(props: {
  accounts: CloudAccount[];
  onClose: () => void;
  onEnabled: () => void;
  initial?: DrPrefill;
}) {
  const wanted = props.initial?.dr;
  const [active, setActive] = useState(0);
  const [frameAccount, setFrameAccount] = useState(wanted?.frame_account ?? "");
  const [primaryId, setPrimaryId] = useState(
    props.accounts.find((a) => a.id === props.initial?.accountId)?.id ?? props.accounts[0]?.id ?? "",
  );
  const primary = props.accounts.find((a) => a.id === primaryId);
  const isAhv = primary?.kind === "ahv";
  const ahvAccounts = props.accounts.filter((a) => a.kind === "ahv");
  const [secondaryId, setSecondaryId] = useState(() => {
    const t = wanted?.target;
    const named = t?.kind === "ahv" ? ahvAccounts.find((a) => a.id === t.secondary_account_id || a.name === t.secondary_account_name) : undefined;
    return named?.id ?? ahvAccounts.find((a) => a.id !== primaryId)?.id ?? "";
  });
  const secondary = props.accounts.find((a) => a.id === secondaryId);
  const [errors, setErrors] = useState<Errors>({});
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const [prepared, setPrepared] = useState<Prepared | null>(null);
  const [sites, setSites] = useState<SitesForm | null>(null);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [mappingError, setMappingError] = useState<string | undefined>();
  const [test, setTest] = useState<{ key: string; result: DrConnectionCheck_Serialize } | null>(null);
  const [region, setRegion] = useState<RegionForm>(() =>
    wanted?.target.kind === "azure"
      ? { region: wanted.target.secondary_region, group: wanted.target.secondary_resource_group, replicasKept: 7 }
      : { region: "", group: "", replicasKept: 7 },
  );
  const [regionCheck, setRegionCheck] = useState<{ key: string; result: RegionCheck_Serialize } | null>(null);
  const [done, setDone] = useState<DrEnabled | null>(null);
  const [policies, setPolicies] = useState(() => initialPolicies(primaryId));
  useStoredPolicies(primaryId, setPolicies);
  const [policiesSaved, setPoliciesSaved] = useState<PoliciesSaved | null>(null);
  const body = useRef<HTMLDivElement>(null);

  const steps = isAhv ? AHV_STEPS : AZURE_STEPS;
  const summaryStep = steps.length - 1;

  function go(step: number) {
    setFailure(null);
    setErrors({});
    setActive(step);
  }

  function invalid(e: Errors) {
    setErrors(e);
    if (Object.values(e).some(Boolean)) {
      focusFirstError(body.current);
      return true;
    }
    return false;
  }

  // Step 1: the account exists there, and what the next steps start from.
  async function prepare() {
    const e: Errors = {};
    if (!frameAccount.trim()) e.frameAccount = "Enter the Frame account's name as Frame shows it, e.g. acme-pd.";
    if (!primary) e.primary = "Choose the cloud account the Frame account runs on.";
    if (isAhv) {
      if (!secondary) e.secondary = "Choose the AHV cluster that receives the replicas; add it under Cloud accounts first.";
      else if (secondary.id === primaryId) e.secondary = "The secondary must be another cluster than the primary.";
    }
    if (invalid(e) || !primary) return;
    const key = `${primaryId}|${isAhv ? secondaryId : ""}|${frameAccount.trim()}`;
    if (prepared?.key === key) return go(1);
    setBusy(true);
    setFailure(null);
    const found = await call(() => commands.discoverResources(primaryId, frameAccount.trim()));
    if (found.status === "error") {
      setBusy(false);
      return setFailure({
        title: `The resources of ${frameAccount.trim()} on ${primary.name} could not be listed`,
        advice: "Test the cloud account under Cloud accounts, fix what it reports, then try again.",
        error: found.error,
      });
    }
    const prot = found.data.filter((r) => !r.not_protected_reason);
    if (prot.length === 0) {
      setBusy(false);
      invalid({
        frameAccount: `No persistent resource of Frame account ${frameAccount.trim()} was found on ${primary.name}. Check the name (Frame's Account Settings show it) and that the account runs on this infrastructure.`,
      });
      return;
    }
    const accountContainers = [...new Set(prot.map((r) => r.location).filter(Boolean))].sort();
    const settings = await call(() => commands.cloudAccountSettings(primaryId));
    if (settings.status === "error") {
      setBusy(false);
      return setFailure({ title: `The settings of ${primary.name} could not be read`, error: settings.error });
    }
    const next: Prepared = {
      key,
      protectedCount: prot.length,
      notProtected: found.data.length - prot.length,
      accountContainers,
      primary: settings.data,
    };
    if (isAhv && secondary) {
      const [sec, containers] = await Promise.all([
        call(() => commands.cloudAccountSettings(secondaryId)),
        call(() => commands.listDrContainers(primaryId, secondaryId)),
      ]);
      if (sec.status === "error") {
        setBusy(false);
        return setFailure({ title: `The settings of ${secondary.name} could not be read`, error: sec.error });
      }
      if (containers.status === "error") {
        setBusy(false);
        return setFailure({
          title: "The storage containers of the two clusters could not be listed",
          advice: "Test both cloud accounts under Cloud accounts, fix what they report, then try again.",
          error: containers.error,
        });
      }
      next.secondary = sec.data;
      next.containers = containers.data;
      const address = (s: AccountSettings_Serialize) => (s.kind === "ahv" ? s.address : "");
      setSites({
        primarySite: primary.name.replace(/[^A-Za-z0-9_.-]/g, "-"),
        primaryAddress: address(settings.data),
        primaryPort: 2020,
        primaryCheckPorts: "2009, 2020",
        secondarySite: secondary.name.replace(/[^A-Za-z0-9_.-]/g, "-"),
        secondaryAddress: address(sec.data),
        secondaryPort: 2020,
        secondaryCheckPorts: "2009, 2020",
        limitBandwidth: false,
        bandwidthMbps: 100,
        compression: true,
      });
      const proposed = initialMapping(containers.data, secondary.name.replace(/[^A-Za-z0-9_.-]/g, "-"));
      // An imported configuration's mappings win where their source container exists here.
      if (wanted?.target.kind === "ahv") {
        for (const m of wanted.target.mappings) if (m.source in proposed) proposed[m.source] = m.destination;
      }
      setMapping(proposed);
      setTest(null);
    } else {
      setRegionCheck(null);
    }
    setPrepared(next);
    setBusy(false);
    go(1);
  }

  const ids = { primary: primaryId, secondary: secondaryId, frameAccount };
  const request = sites ? ahvRequest(ids, sites, mapping) : null;
  const requestKey = JSON.stringify(request);
  const testPassed = !!test && test.key === requestKey && test.result.test.ok;

  function sitesNext() {
    if (!sites || invalid(validateSites(sites))) return;
    go(2);
  }

  function mappingNext() {
    if (!request || request.plan.mappings.length === 0) {
      setMappingError(
        "Map at least one container (one that holds the account's resources) to a container of the secondary.",
      );
      return;
    }
    setMappingError(undefined);
    go(3);
  }

  async function runTest() {
    if (!request) return;
    if (testPassed) return go(4);
    setBusy(true);
    setFailure(null);
    const out = await call(() => commands.testDrConnection(request));
    setBusy(false);
    if (out.status === "error") {
      return setFailure({
        title: "Test connection could not run",
        advice:
          out.error.code === "invalid_input"
            ? undefined
            : "A cluster could not be asked. Test both cloud accounts under Cloud accounts, then test again.",
        error: out.error,
      });
    }
    setTest({ key: requestKey, result: out.data });
  }

  const primaryRegion = prepared?.primary.kind === "azure" ? prepared.primary.primary_region : "";
  const regionKey = JSON.stringify([primaryId, frameAccount.trim(), normalizeRegion(region.region), region.group.trim(), Number(region.replicasKept)]);
  const regionUsable = !!regionCheck && regionCheck.key === regionKey && regionCheck.result.problems.length === 0;

  async function checkRegion() {
    if (invalid(validateRegion(region, primaryRegion))) return;
    if (regionUsable) return go(2);
    setBusy(true);
    setFailure(null);
    const out = await call(() =>
      commands.checkDrRegion(primaryId, frameAccount.trim(), region.region.trim(), Number(region.replicasKept)),
    );
    setBusy(false);
    if (out.status === "error") {
      return setFailure({
        title: `${region.region.trim()} could not be checked`,
        advice: "Azure did not answer the quota question. Test the cloud account under Cloud accounts, then check again.",
        error: out.error,
      });
    }
    setRegionCheck({ key: regionKey, result: out.data });
  }

  function policiesNext() {
    if (invalid(validatePolicies(policies, frameAccount))) return;
    go(summaryStep);
  }

  async function savePoliciesNow() {
    setBusy(true);
    setPoliciesSaved(await savePolicies(primaryId, frameAccount.trim(), policies));
    setBusy(false);
  }

  async function enable() {
    if (done) return props.onClose();
    setBusy(true);
    setFailure(null);
    const out = await call(() =>
      isAhv && request
        ? commands.enableDrAhv(request)
        : commands.enableDrAzure({
            account: primaryId,
            frame_account: frameAccount.trim(),
            secondary_region: normalizeRegion(region.region),
            secondary_resource_group: region.group.trim(),
            replicas_kept: Number(region.replicasKept),
          }),
    );
    setBusy(false);
    if (out.status === "error") {
      return setFailure({ title: `Disaster recovery was not enabled for ${frameAccount.trim()}`, error: out.error });
    }
    setDone(out.data);
    props.onEnabled();
    await savePoliciesNow();
  }

  const cancel = (
    <Button variant="default" onClick={props.onClose}>
      Cancel
    </Button>
  );
  const back = (step: number) => <BackTo label="Back" onClick={() => go(step)} />;
  const primaryName = primary?.name ?? "";
  const secondaryName = secondary?.name ?? "";

  return (
    <Modal opened onClose={props.onClose} title="Enable disaster recovery" size={1000} closeOnClickOutside={false}>
      <div ref={body}>
        <Stepper
          active={active}
          onStepClick={(s) => s < active && !done && go(s)}
          allowNextStepsSelect={false}
          size="sm"
          mb="lg"
        >
          {steps.map((s) => (
            <Stepper.Step key={s} label={s} />
          ))}
        </Stepper>
        {failure && <StepError title={failure.title} error={failure.error} advice={failure.advice} testId="wizard-error" />}

        {active === 0 && (
          <StepForm
            label="Accounts"
            busy={busy}
            onSubmit={prepare}
            footer={
              <>
                {cancel}
                <Button type="submit" loading={busy}>
                  Next
                </Button>
              </>
            }
          >
            <TextInput
              label="Frame account"
              description="Its persistent resources (sandbox, utility servers, persistent desktops, profiles, personal drives) are protected."
              placeholder="acme-pd"
              required
              value={frameAccount}
              onChange={(e) => setFrameAccount(e.currentTarget.value)}
              error={errors.frameAccount}
              data-autofocus
            />
            <NativeSelect
              label="Primary infrastructure"
              description="The cloud account the Frame account runs on."
              data={props.accounts.map((a) => ({
                value: a.id,
                label: `${a.name} (${a.kind === "ahv" ? "Nutanix AHV" : "Azure"})`,
              }))}
              value={primaryId}
              onChange={(e) => {
                const id = e.currentTarget.value;
                setPrimaryId(id);
                if (id === secondaryId) setSecondaryId(ahvAccounts.find((a) => a.id !== id)?.id ?? "");
              }}
              error={errors.primary}
            />
            {isAhv && (
              <NativeSelect
                label="Secondary infrastructure"
                description="The AHV cluster that receives the replicas."
                data={[
                  { value: "", label: "Choose a cluster", disabled: true },
                  ...ahvAccounts
                    .filter((a) => a.id !== primaryId)
                    .map((a) => ({ value: a.id, label: a.name })),
                ]}
                value={secondaryId}
                onChange={(e) => setSecondaryId(e.currentTarget.value)}
                error={errors.secondary}
              />
            )}
            {primary && !isAhv && (
              <Text size="sm" c="dimmed">
                Azure replicates to another region of the same subscription: you choose it in the next step.
              </Text>
            )}
          </StepForm>
        )}

        {active > 0 && prepared && active < summaryStep && (
          <Text size="sm" c="dimmed" mb="sm" data-testid="found">
            {frameAccount.trim()} on {primaryName}: {prepared.protectedCount} persistent resources to protect
            {prepared.notProtected > 0
              ? ` (${prepared.notProtected} template ${prepared.notProtected === 1 ? "image is" : "images are"} not backed up)`
              : ""}
            {isAhv && prepared.accountContainers.length > 0 ? `, in ${prepared.accountContainers.join(", ")}` : ""}.
          </Text>
        )}

        {isAhv && active === 1 && sites && (
          <StepForm
            label="Remote sites"
            onSubmit={sitesNext}
            footer={
              <>
                {back(0)}
                <Button type="submit">Next</Button>
              </>
            }
          >
            <SitesStep
              form={sites}
              errors={errors}
              primaryName={primaryName}
              secondaryName={secondaryName}
              onChange={setSites}
            />
          </StepForm>
        )}

        {isAhv && active === 2 && prepared?.containers && (
          <StepForm
            label="vStore mapping"
            onSubmit={mappingNext}
            footer={
              <>
                {back(1)}
                <Button type="submit">Next</Button>
              </>
            }
          >
            <MappingStep
              containers={prepared.containers}
              mapping={mapping}
              accountContainers={prepared.accountContainers}
              frameAccount={frameAccount.trim()}
              primaryName={primaryName}
              secondaryName={secondaryName}
              error={mappingError}
              onChange={(m) => {
                setMapping(m);
                setMappingError(undefined);
              }}
            />
          </StepForm>
        )}

        {isAhv && active === 3 && (
          <StepForm
            label="Test connection"
            busy={busy}
            onSubmit={runTest}
            footer={
              <>
                <Group gap="xs">
                  <BackTo label="Back to remote sites" onClick={() => go(1)} />
                  <BackTo label="Back to vStore mapping" onClick={() => go(2)} />
                </Group>
                <Button type="submit" loading={busy}>
                  {testPassed ? "Next: backup policies" : test ? "Test again" : "Test connection"}
                </Button>
              </>
            }
          >
            <TestStep
              result={test?.result ?? null}
              stale={!!test && test.key !== requestKey}
              primaryName={primaryName}
              secondaryName={secondaryName}
            />
          </StepForm>
        )}

        {!isAhv && active === 1 && (
          <StepForm
            label="Secondary region"
            busy={busy}
            onSubmit={checkRegion}
            footer={
              <>
                {back(0)}
                <Button type="submit" loading={busy}>
                  {regionUsable ? "Next: backup policies" : "Check region"}
                </Button>
              </>
            }
          >
            <RegionStep
              form={region}
              errors={errors}
              primaryRegion={primaryRegion}
              accountName={primaryName}
              check={regionCheck?.result ?? null}
              stale={!!regionCheck && regionCheck.key !== regionKey}
              onChange={(f) => {
                setRegion(f);
                setErrors({});
              }}
            />
          </StepForm>
        )}

        {active === summaryStep - 1 && active > 0 && (
          <StepForm
            label="Backup policies"
            onSubmit={policiesNext}
            footer={
              <>
                {back(summaryStep - 2)}
                <Button type="submit">Next: summary</Button>
              </>
            }
          >
            <BackupPoliciesStep
              policies={policies}
              errors={errors}
              account={primaryId}
              accountName={primaryName}
              frameAccount={frameAccount.trim()}
              onChange={(p) => {
                setPolicies(p);
                setErrors({});
              }}
            />
          </StepForm>
        )}

        {active === summaryStep && active > 0 && (
          <StepForm
            label="Summary"
            busy={busy}
            onSubmit={enable}
            footer={
              done ? (
                <>
                  <span />
                  <Button type="submit">Done</Button>
                </>
              ) : (
                <>
                  {back(summaryStep - 1)}
                  <Button type="submit" loading={busy} data-autofocus>
                    Enable
                  </Button>
                </>
              )
            }
          >
            {done ? (
              <>
                <Enabled result={done} />
                <PoliciesOutcome saved={policiesSaved} busy={busy} onRetry={() => void savePoliciesNow()} />
              </>
            ) : (
              <Summary
                frameAccount={frameAccount.trim()}
                primaryName={primaryName}
                secondaryName={secondaryName}
                prepared={prepared}
                request={isAhv ? request : null}
                region={isAhv ? null : { ...region, primary: primaryRegion }}
                policies={policyRows(policies, frameAccount.trim())}
              />
            )}
          </StepForm>
        )}
      </div>
    </Modal>
  );
}

function Summary(props: {
  frameAccount: string;
  primaryName: string;
  secondaryName: string;
  prepared: Prepared | null;
  request: ReturnType<typeof ahvRequest> | null;
  region: (RegionForm & { primary: string }) | null;
  policies: [string, string][];
}) {
  const rows: [string, ReactNode][] = [
    ["Frame account", props.frameAccount],
    ["Primary", `${props.primaryName} (${props.prepared?.protectedCount ?? 0} persistent resources)`],
  ];
  const r = props.request;
  if (r) {
    const p = r.plan;
    rows.push(
      ["Secondary", props.secondaryName],
      ["Remote site on the primary", `${p.secondary.site_name} → ${p.secondary.address}:${p.secondary.port}`],
      ["Reverse site on the secondary", `${p.primary.site_name} → ${p.primary.address}:${p.primary.port}`],
      [
        "Replication",
        `${p.compression ? "compressed" : "uncompressed"}, ${
          p.bandwidth_limit_bytes_per_sec
            ? `limited to ${Math.round((p.bandwidth_limit_bytes_per_sec * 8) / 1_000_000)} Mbit/s`
            : "no bandwidth limit"
        }`,
      ],
      [
        "vStore mapping",
        <Stack gap={0} key="m">
          {p.mappings.map((m) => (
            <Text size="sm" key={m.source}>
              <Code>{m.source}</Code> → <Code>{m.destination}</Code>
            </Text>
          ))}
        </Stack>,
      ],
      [
        "Reverse mapping",
        <Stack gap={0} key="r">
          {reverseOf(p.mappings).map((m) => (
            <Text size="sm" key={m.source}>
              <Code>{m.source}</Code> → <Code>{m.destination}</Code>
            </Text>
          ))}
        </Stack>,
      ],
      ["Protection domain", <Code key="pd">standby-{props.frameAccount.replace(/[^A-Za-z0-9_.-]/g, "-")}</Code>],
    );
  }
  const z = props.region;
  if (z) {
    rows.push(
      ["Primary region", z.primary],
      ["Secondary region", normalizeRegion(z.region)],
      ["Resource group for replicas", z.group.trim()],
      ["Replicas kept per resource", String(z.replicasKept)],
    );
  }
  rows.push(...props.policies);
  return (
    <>
      <Table variant="vertical" withTableBorder data-testid="summary">
        <Table.Tbody>
          {rows.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th w={240}>{k}</Table.Th>
              <Table.Td>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="sm">
        {r
          ? "Enable brings both remote sites up to date, runs Test connection again, then creates (or adopts) the protection domain and protects the account's persistent resources. The configuration is saved only if all of it works."
          : "Enable checks the region and the resource group again and saves the configuration; quota that would run short is reported as a warning."}{" "}
        The outcome also goes to the notification center.
      </Text>
    </>
  );
}

function Enabled(props: { result: DrEnabled }) {
  const r = props.result;
  return (
    <Stack gap="sm" aria-live="polite" data-testid="enabled">
      <Alert
        color={r.warnings.length ? "orange" : "teal"}
        variant="light"
        icon={<IconCircleCheck />}
        title={`Disaster recovery is enabled for ${r.config.frame_account}`}
      >
        {r.protected_resources} resources of {r.config.account_name} are protected and replicate to{" "}
        {r.config.target.kind === "ahv" ? r.config.target.secondary_account_name : r.config.target.secondary_region}.
      </Alert>
      {r.warnings.length > 0 && (
        <Alert color="orange" variant="light" title="Warnings">
          <List size="sm">
            {r.warnings.map((w) => (
              <List.Item key={w}>{w}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      <CheckList checks={r.checks} label="What was checked" />
    </Stack>
  );
}
