import { Badge, Button, Card, Loader, Stack, Table, Text, VisuallyHidden } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import { useState } from "react";

import type { CloudAccount } from "../bindings";
import { AccountTest, HealthBadge, useAccountHealth } from "../components/AccountTest";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import type { Loaded } from "../ipc";
import { AddAccountWizard } from "../wizards/AddAccountWizard";

const KIND_LABEL = { ahv: "Nutanix AHV", azure: "Azure" } as const;
const KIND_COLOR = { ahv: "teal", azure: "blue" } as const;

export function CloudAccountsPage(props: { accounts: Loaded<CloudAccount[]> & { reload?: () => void } }) {
  const [adding, setAdding] = useState(false);
  const add = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
      Add cloud account
    </Button>
  );
  return (
    <>
      <PageHeader
        title="Cloud accounts"
        description="The Prism Element clusters and Azure subscriptions Standby works with. Their secrets stay in the system keyring."
        actions={props.accounts.state === "ready" && props.accounts.data.length > 0 ? add : undefined}
      />
      {adding && <AddAccountWizard onClose={() => setAdding(false)} onChanged={() => props.accounts.reload?.()} />}
      <Card withBorder padding={props.accounts.state === "ready" && props.accounts.data.length > 0 ? 0 : "lg"}>
        {props.accounts.state === "loading" && <Loader aria-label="Loading cloud accounts" />}
        {props.accounts.state === "failed" && (
          <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />
        )}
        {props.accounts.state === "ready" && props.accounts.data.length === 0 && (
          <Stack align="center" gap="md">
            <NoAccounts onAccountsPage what="A cloud account is one Nutanix Prism Element cluster or one Azure subscription." />
            {add}
          </Stack>
        )}
        {props.accounts.state === "ready" && props.accounts.data.length > 0 && (
          <Table striped highlightOnHover verticalSpacing="sm" horizontalSpacing="md">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Infrastructure</Table.Th>
                <Table.Th>Endpoint</Table.Th>
                <Table.Th>Health</Table.Th>
                <Table.Th>Added</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Test</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {props.accounts.data.map((a) => (
                <AccountRow key={a.id} account={a} />
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </>
  );
}

/** One account, tested when the list shows it: the health column is the engine's live answer. */
function AccountRow(props: { account: CloudAccount }) {
  const a = props.account;
  const health = useAccountHealth(a);
  return (
    <Table.Tr>
      <Table.Td fw={600} style={{ whiteSpace: "nowrap" }}>
        {a.name}
      </Table.Td>
      <Table.Td style={{ whiteSpace: "nowrap" }}>
        <Badge variant="light" color={KIND_COLOR[a.kind]} tt="none" maw="none">
          {KIND_LABEL[a.kind]}
        </Badge>
      </Table.Td>
      <Table.Td>
        <Text size="sm" ff="monospace">
          {a.endpoint}
        </Text>
      </Table.Td>
      <Table.Td>
        <HealthBadge account={a} health={health} />
      </Table.Td>
      <Table.Td style={{ whiteSpace: "nowrap" }}>{new Date(a.created_at).toLocaleString()}</Table.Td>
      <Table.Td ta="right">
        <AccountTest account={a} health={health} />
      </Table.Td>
    </Table.Tr>
  );
}
