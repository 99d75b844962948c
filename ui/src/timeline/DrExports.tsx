// Export and import of a DR configuration (JSON, no secrets) and the backup report (CSV), through
// the platform's file dialogs (the engine opens them). A cancelled dialog shows nothing; the path
// written, what an import applied and what it found different are shown in place.
import { Alert, Button, Card, Code, Group, List, Stack, Text, Title } from "@mantine/core";
import { IconCircleCheck, IconFileExport, IconFileImport, IconTable } from "@tabler/icons-react";
import { useState, type ReactNode } from "react";

import { commands, type ApiError, type BackupReportWritten, type DrConfig, type DrImport, type DrTarget, type ExportedDr } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError, type Outcome } from "../ipc";
import type { DrPrefill } from "../wizards/EnableDrWizard";
import { num } from "../numbers";

type Action = "export" | "import" | "report";

type Result =
  | { action: "export"; path: string }
  | { action: "import"; imported: DrImport }
  | { action: "report"; written: BackupReportWritten }
  | { action: Action; error: ApiError };

const FAILED: Record<Action, string> = {
  export: "The DR configuration was not exported",
  import: "The DR configuration was not imported",
  report: "The backup report was not written",
};

function target(t: DrTarget): string {
  return t.kind === "ahv"
    ? `replication to ${t.secondary_account_name} (AHV, protection domain ${t.protection_domain})`
    : `replication to ${t.secondary_region} (Azure, resource group ${t.secondary_resource_group})`;
}

function wanted(w: ExportedDr): string {
  return `${w.frame_account}: ${target(w.target)}`;
}

async function run<T>(call: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await call();
  } catch (e) {
    return { status: "error", error: toApiError(e) };
  }
}

export function DrExports(props: { config: DrConfig; onEnableDr: (prefill?: DrPrefill) => void }) {
  const account = props.config.account_id;
  const [busy, setBusy] = useState<Action | null>(null);
  const [result, setResult] = useState<Result | null>(null);

  async function act(action: Action) {
    setBusy(action);
    setResult(null);
    if (action === "export") {
      const out = await run(() => commands.exportDrConfig(account));
      if (out.status === "error") setResult({ action, error: out.error });
      else if (out.data !== null) setResult({ action, path: out.data });
    } else if (action === "import") {
      const out = await run(() => commands.importDrConfig(account));
      if (out.status === "error") setResult({ action, error: out.error });
      else if (out.data !== null) setResult({ action, imported: out.data });
    } else {
      const out = await run(() => commands.exportBackupReport(account, null));
      if (out.status === "error") setResult({ action, error: out.error });
      else if (out.data !== null) setResult({ action, written: out.data });
    }
    setBusy(null);
  }

  return (
    <Card withBorder padding="md" component="section" aria-labelledby={`dr-exp-${account}`} data-testid={`dr-exports-${props.config.frame_account}`}>
      <Title order={2} size="h5" mb={4} id={`dr-exp-${account}`}>
        Export and import: {props.config.frame_account} on {props.config.account_name}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        The DR configuration and the backup policies as a JSON file (no password or secret), to keep or to apply to another
        account; the account's backups as a CSV report.
      </Text>
      <Stack gap="xs">
        <Group gap="xs">
          <Button variant="default" size="xs" leftSection={<IconFileExport size={14} />} loading={busy === "export"} disabled={busy !== null} onClick={() => void act("export")}>
            Export DR configuration
          </Button>
          <Button variant="default" size="xs" leftSection={<IconFileImport size={14} />} loading={busy === "import"} disabled={busy !== null} onClick={() => void act("import")}>
            Import DR configuration
          </Button>
          <Button variant="default" size="xs" leftSection={<IconTable size={14} />} loading={busy === "report"} disabled={busy !== null} onClick={() => void act("report")}>
            Export backup report (CSV)
          </Button>
        </Group>
        <div aria-live="polite">
          {result && "error" in result && <ErrorNotice title={FAILED[result.action]} error={result.error} />}
          {result && "path" in result && (
            <Done>
              DR configuration of {props.config.account_name} written to <Code data-testid="written-path">{result.path}</Code>. It holds no
              password or secret.
            </Done>
          )}
          {result && "written" in result && (
            <Done>
              Backup report written to <Code data-testid="written-path">{result.written.path}</Code>:{" "}
              {result.written.rows === 1 ? "1 backup" : `${num(result.written.rows)} backups`}, one row each.
            </Done>
          )}
          {result && "imported" in result && <Imported imported={result.imported} onEnableDr={props.onEnableDr} />}
        </div>
      </Stack>
    </Card>
  );
}

function Done(props: { children: ReactNode }) {
  return (
    <Alert variant="light" color="teal" icon={<IconCircleCheck />} p="xs">
      <Text size="sm">{props.children}</Text>
    </Alert>
  );
}

function Imported(props: { imported: DrImport; onEnableDr: (prefill?: DrPrefill) => void }) {
  const o = props.imported.outcome;
  const dr = o.disaster_recovery;
  return (
    <Alert variant="light" color="teal" icon={<IconCircleCheck />} title={`Imported onto ${o.account_name}`} data-testid="dr-import-result">
      <Stack gap={6}>
        <Text size="sm">
          Read <Code>{props.imported.path}</Code>.
        </Text>
        {o.applied.length > 0 ? (
          <>
            <Text size="sm" fw={600}>
              Applied
            </Text>
            <List size="sm">
              {o.applied.map((a) => (
                <List.Item key={a}>{a}</List.Item>
              ))}
            </List>
          </>
        ) : (
          <Text size="sm">Nothing was applied.</Text>
        )}
        {o.not_applied.length > 0 && (
          <>
            <Text size="sm" fw={600}>
              Not applied
            </Text>
            <List size="sm">
              {o.not_applied.map((a) => (
                <List.Item key={a}>{a}</List.Item>
              ))}
            </List>
          </>
        )}
        {dr.state === "not_in_file" && <Text size="sm">The file holds no DR configuration.</Text>}
        {dr.state === "same" && <Text size="sm">The account's DR configuration is the same as the file's.</Text>}
        {(dr.state === "missing" || dr.state === "different") && (
          <Alert variant="light" color="yellow" title="Disaster recovery itself was not changed" data-testid="dr-differs">
            <Stack gap={6}>
              <Text size="sm">
                {dr.state === "missing"
                  ? `The file enables DR (${wanted(dr.wanted)}), which this account does not have.`
                  : `The file's DR configuration differs from this account's: the file has ${wanted(dr.wanted)}; the account has ${wanted(dr.current)}.`}{" "}
                An import never changes DR: enabling it joins clusters or regions and checks them, which the Enable DR wizard does
                with you watching each check.
              </Text>
              {dr.state === "different" && (
                <List size="sm">
                  {dr.differences.map((d) => (
                    <List.Item key={d}>{d}</List.Item>
                  ))}
                </List>
              )}
              <Group>
                <Button size="xs" onClick={() => props.onEnableDr({ accountId: o.account_id, dr: dr.wanted })}>
                  Open the Enable DR wizard
                </Button>
              </Group>
            </Stack>
          </Alert>
        )}
      </Stack>
    </Alert>
  );
}
