import { Alert, Badge, Card, Code, Loader, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { IconInfoCircle, IconShieldOff } from "@tabler/icons-react";
import { useState } from "react";

import { commands, type CloudAccount, type DrConfig } from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import { useCommand, type Loaded } from "../ipc";
import { DrResources } from "../overview/DrResources";
import { DrExports } from "../timeline/DrExports";
import { EnableDrWizard, type DrPrefill } from "../wizards/EnableDrWizard";

export function DisasterRecoveryPage(props: { accounts: Loaded<CloudAccount[]> }) {
  const hasAccounts = props.accounts.state === "ready" && props.accounts.data.length > 0;
  const [wizard, setWizard] = useState(false);
  // Set when an imported DR configuration opens the wizard: it starts from the file's choices.
  const [prefill, setPrefill] = useState<DrPrefill | undefined>();
  // Bumped after Enable so that the list of configurations is read again.
  const [generation, setGeneration] = useState(0);
  return (
    <>
      <PageHeader
        title="Disaster recovery"
        description="Back up every persistent resource and replicate it to a second AHV cluster or Azure region."
        actions={
          hasAccounts && (
            <Switch
              size="md"
              label="Enable DR"
              description="For a Frame account"
              checked={wizard}
              onChange={(e) => {
                setPrefill(undefined);
                setWizard(e.currentTarget.checked);
              }}
              data-testid="enable-dr"
              style={{ whiteSpace: "nowrap" }}
            />
          )
        }
      />
      {wizard && props.accounts.state === "ready" && (
        <EnableDrWizard
          accounts={props.accounts.data}
          initial={prefill}
          onClose={() => setWizard(false)}
          onEnabled={() => setGeneration((g) => g + 1)}
        />
      )}
      <Stack gap="lg">
        <Alert variant="light" color="gray" icon={<IconInfoCircle />} title="What is protected">
          The sandbox, utility servers, persistent desktops, and each user's enterprise profile and personal drive.
          Template images are not backed up: they are not part of a Frame account, so back them up separately.
        </Alert>
        {props.accounts.state === "loading" && <Loader aria-label="Loading cloud accounts" />}
        {props.accounts.state === "failed" && (
          <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />
        )}
        {props.accounts.state === "ready" && props.accounts.data.length === 0 && (
          <Card withBorder padding="lg">
            <NoAccounts what="Disaster recovery is enabled per Frame account, with a primary and a secondary site." />
          </Card>
        )}
        {hasAccounts && (
          <Configurations
            key={generation}
            onEnableDr={(p) => {
              setPrefill(p);
              setWizard(true);
            }}
          />
        )}
      </Stack>
    </>
  );
}

function replicatesTo(c: DrConfig) {
  return c.target.kind === "ahv"
    ? `${c.target.secondary_account_name} (AHV cluster)`
    : `${c.target.secondary_region} (Azure region, resource group ${c.target.secondary_resource_group})`;
}

/** Which Frame accounts have disaster recovery, where they replicate, since when. */
function Configurations(props: { onEnableDr: (prefill?: DrPrefill) => void }) {
  const configs = useCommand(() => commands.drConfigs());
  if (configs.state === "loading") return <Loader aria-label="Loading disaster-recovery settings" />;
  if (configs.state === "failed")
    return <ErrorNotice title="Disaster-recovery settings could not be read" error={configs.error} />;
  if (configs.data.length === 0)
    return (
      <Card withBorder padding="lg">
        <EmptyState icon={<IconShieldOff size={30} />} title="Disaster recovery is not enabled yet">
          No Frame account replicates to a secondary site yet. Turn on <b>Enable DR</b> above: the wizard checks the
          secondary site and the connection before anything is saved. From the command line:{" "}
          <Code>standbyctl dr enable-ahv --help</Code> or <Code>standbyctl dr enable-azure --help</Code>.
        </EmptyState>
      </Card>
    );
  return (
    <>
    <Card withBorder padding={0}>
      <Title order={2} size="h5" p="md" pb="xs">
        Enabled for
      </Title>
      <Table verticalSpacing="sm" horizontalSpacing="md" data-testid="dr-configs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Frame account</Table.Th>
            <Table.Th>Primary</Table.Th>
            <Table.Th>Replicates to</Table.Th>
            <Table.Th>Details</Table.Th>
            <Table.Th>Since</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {configs.data.map((c) => (
            <Table.Tr key={c.account_id}>
              <Table.Td fw={600}>{c.frame_account}</Table.Td>
              <Table.Td style={{ whiteSpace: "nowrap" }}>{c.account_name}</Table.Td>
              <Table.Td>{replicatesTo(c)}</Table.Td>
              <Table.Td>
                {c.target.kind === "ahv" ? (
                  <Text size="sm">
                    Protection domain <Code>{c.target.protection_domain}</Code>,{" "}
                    {c.target.mappings.map((m) => `${m.source} → ${m.destination}`).join(", ")}
                  </Text>
                ) : (
                  <Badge variant="light" tt="none">
                    Incremental snapshots copied across regions
                  </Badge>
                )}
              </Table.Td>
              <Table.Td style={{ whiteSpace: "nowrap" }}>{new Date(c.enabled_at).toLocaleString()}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
    {configs.data.map((c) => (
      <DrResources key={c.account_id} config={c} />
    ))}
    {configs.data.map((c) => (
      <DrExports key={c.account_id} config={c} onEnableDr={props.onEnableDr} />
    ))}
    </>
  );
}
