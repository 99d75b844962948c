// The Disaster recovery page's resource list: for one DR configuration, the Frame account's
// persistent resources by type with their protection state (`volume_overview`), and, in the
// engine's words, why template images are not backed up.

import { Accordion, Alert, Badge, Card, Group, Loader, Table, Text, Title } from "@mantine/core";
import { IconPhotoOff } from "@tabler/icons-react";

import { commands, type DrConfig, type ResourceKind, type VolumeRow } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { useCommand } from "../ipc";
import { KINDS, KIND_ORDER, PROTECTION, ago, ageAt } from "./words";

/** Rows listed per type; the Volumes tab lists them all. */
const LISTED = 50;

export function DrResources(props: { config: DrConfig }) {
  const c = props.config;
  // Ages are measured from when the answer came (the overview has no instant of its own).
  const overview = useCommand(async () => {
    const out = await commands.volumeOverview(c.account_id, c.frame_account);
    return out.status === "ok" ? { status: "ok" as const, data: { rows: out.data.rows, at: Date.now() } } : out;
  });
  return (
    <Card withBorder padding="md" data-testid={`dr-resources-${c.frame_account}`} component="section" aria-labelledby={`dr-res-${c.account_id}`}>
      <Title order={2} size="h5" mb="xs" id={`dr-res-${c.account_id}`}>
        Resources of {c.frame_account} on {c.account_name}
      </Title>
      {overview.state === "loading" && <Loader size="sm" aria-label={`Loading the resources of ${c.frame_account}`} />}
      {overview.state === "failed" && <ErrorNotice title="The resources could not be read" error={overview.error} />}
      {overview.state === "ready" && <ByKind rows={overview.data.rows} now={overview.data.at} frame={c.frame_account} />}
    </Card>
  );
}

function ByKind(props: { rows: VolumeRow[]; now: number; frame: string }) {
  if (props.rows.length === 0)
    return (
      <Text size="sm" c="dimmed">
        No resources of {props.frame} have been discovered yet: open Volumes and press <b>Refresh from the provider</b>.
      </Text>
    );
  const groups = new Map<ResourceKind, VolumeRow[]>();
  for (const r of props.rows) {
    const g = groups.get(r.kind);
    if (g) g.push(r);
    else groups.set(r.kind, [r]);
  }
  const templates = groups.get("template_image") ?? [];
  const persistent = KIND_ORDER.filter((k) => k !== "template_image");
  return (
    <>
      <Accordion multiple variant="separated" chevronPosition="left" data-testid="dr-resource-kinds">
        {persistent.map((kind) => {
          const rows = groups.get(kind) ?? [];
          const count = (s: VolumeRow["protection"]["state"]) => rows.filter((r) => r.protection.state === s).length;
          const prot = count("protected");
          return (
            <Accordion.Item key={kind} value={kind} data-kind={kind}>
              <Accordion.Control disabled={rows.length === 0} aria-label={`${KINDS[kind]}: ${rows.length}, ${prot} protected`}>
                <Group justify="space-between" wrap="nowrap" pr="sm">
                  <Text fw={600} size="sm">
                    {KINDS[kind]}{" "}
                    <Text span c="dimmed" size="sm">
                      ({rows.length})
                    </Text>
                  </Text>
                  <Group gap={6}>
                    {rows.length === 0 && (
                      <Text size="xs" c="dimmed">
                        none
                      </Text>
                    )}
                    {prot > 0 && (
                      <Badge size="sm" variant="light" color="teal" tt="none">
                        {prot} protected
                      </Badge>
                    )}
                    {count("no_backup") > 0 && (
                      <Badge size="sm" variant="light" color="yellow" tt="none">
                        {count("no_backup")} no backup yet
                      </Badge>
                    )}
                    {count("no_dr") > 0 && (
                      <Badge size="sm" variant="light" color="orange" tt="none">
                        {count("no_dr")} not covered by DR
                      </Badge>
                    )}
                  </Group>
                </Group>
              </Accordion.Control>
              <Accordion.Panel>
                <Table verticalSpacing={4} fz="sm" style={{ whiteSpace: "nowrap" }}>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th>Owner</Table.Th>
                      <Table.Th>Last backup</Table.Th>
                      <Table.Th>Protection</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {rows.slice(0, LISTED).map((r) => (
                      <Table.Tr key={r.volume_id}>
                        <Table.Td fw={600}>{r.name}</Table.Td>
                        <Table.Td>{r.owner ?? "—"}</Table.Td>
                        <Table.Td>{r.last_backup ? ago(ageAt(r.last_backup.created_at, props.now)) : "Never"}</Table.Td>
                        <Table.Td>
                          <Badge
                            size="sm"
                            variant="light"
                            color={PROTECTION[r.protection.state].color}
                            tt="none"
                            title={r.protection.reason ?? undefined}
                          >
                            {PROTECTION[r.protection.state].label}
                          </Badge>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
                {/* The engine's reason, once per state rather than on every row. */}
                {[...new Map(rows.filter((r) => r.protection.reason).map((r) => [r.protection.state, r.protection.reason])).entries()].map(
                  ([state, reason]) => (
                    <Text key={state} size="xs" c="dimmed" mt={4} data-testid={`reason-${state}`}>
                      <b>{PROTECTION[state].label}</b>: {reason}
                    </Text>
                  ),
                )}
                {rows.length > LISTED && (
                  <Text size="xs" c="dimmed" mt={4}>
                    and {rows.length - LISTED} more: the Volumes tab lists them all.
                  </Text>
                )}
              </Accordion.Panel>
            </Accordion.Item>
          );
        })}
      </Accordion>
      {templates.length > 0 && (
        <Alert mt="sm" variant="light" color="gray" icon={<IconPhotoOff />} title={`Template images (${templates.length}): not backed up`} data-testid="dr-templates">
          {templates[0]?.protection.reason}
          <Text size="xs" c="dimmed" mt={4}>
            {templates.map((t) => t.name).join(", ")}
          </Text>
        </Alert>
      )}
    </>
  );
}
