// The secondary's room for more replicas and restores, read live (`secondary_headroom`): Azure's
// quota counters in the secondary region, or the free space of the AHV secondary's receiving
// containers. It is a call to the provider, so it loads after the rest of the dashboard and its
// error stays here, in place.

import { Alert, Badge, Group, Loader, Progress, Stack, Table, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";

import { commands, type SecondaryHeadroom } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { useCommand } from "../ipc";
import { bytes } from "./words";
import { num } from "../numbers";

export function Headroom(props: { account: string; accountName: string }) {
  const headroom = useCommand(() => commands.secondaryHeadroom(props.account));
  return (
    <Stack gap="xs" data-testid={`headroom-${props.accountName}`} aria-live="polite">
      {headroom.state === "loading" && (
        <Group gap="xs">
          <Loader size="sm" aria-label={`Reading the secondary's headroom for ${props.accountName}`} />
          <Text size="sm" c="dimmed">
            Reading the secondary's headroom…
          </Text>
        </Group>
      )}
      {headroom.state === "failed" && <ErrorNotice title="The secondary's headroom could not be read" error={headroom.error} />}
      {headroom.state === "ready" && <HeadroomView headroom={headroom.data} />}
    </Stack>
  );
}

function HeadroomView(props: { headroom: SecondaryHeadroom }) {
  const h = props.headroom;
  if (h.kind === "azure") {
    return (
      <>
        <Text size="sm">
          Region <b>{h.region}</b>; estimates assume {h.replicas_assumed} replica{h.replicas_assumed === 1 ? "" : "s"} kept per
          volume.
        </Text>
        {h.problems.map((p) => (
          <Alert key={p} color="red" variant="light" icon={<IconAlertTriangle />} p="xs">
            {p}
          </Alert>
        ))}
        <Table verticalSpacing={4} fz="sm" data-testid="quota-table" style={{ whiteSpace: "nowrap" }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Counter</Table.Th>
              <Table.Th ta="right">In use</Table.Th>
              <Table.Th ta="right">Limit</Table.Th>
              <Table.Th ta="right">Headroom</Table.Th>
              <Table.Th ta="right">Needed</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {h.lines.map((l) => (
              <Table.Tr key={l.code}>
                <Table.Td>{l.name}</Table.Td>
                <Table.Td ta="right">{num(l.current)}</Table.Td>
                <Table.Td ta="right">{num(l.limit)}</Table.Td>
                <Table.Td ta="right" fw={600}>
                  {num(l.headroom)}
                </Table.Td>
                <Table.Td ta="right">{l.needed === null || l.needed === undefined ? "—" : num(l.needed)}</Table.Td>
                <Table.Td>
                  <Badge size="sm" variant="light" color={l.ok ? "teal" : "red"} tt="none" title={l.message ?? undefined}>
                    {l.ok ? "Enough" : "Short"}
                  </Badge>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {h.lines
          .filter((l) => l.message)
          .map((l) => (
            <Text key={l.code} size="xs" c={l.ok ? "dimmed" : "red"}>
              {l.message}
            </Text>
          ))}
      </>
    );
  }
  return (
    <>
      <Text size="sm">
        Receiving containers on <b>{h.secondary_account_name}</b>
      </Text>
      {h.containers.length === 0 && (
        <Text size="sm" c="dimmed">
          No container receives replicas.
        </Text>
      )}
      {h.containers.map((c) => {
        const used = c.capacity_bytes && c.free_bytes !== null && c.free_bytes !== undefined ? ((c.capacity_bytes - c.free_bytes) / c.capacity_bytes) * 100 : null;
        return (
          <Stack key={c.container} gap={2}>
            <Group justify="space-between" gap="xs">
              <Text size="sm" fw={600}>
                {c.container}
                {c.source && (
                  <Text span size="xs" c="dimmed" fw={400}>
                    {" "}
                    ← {c.source}
                  </Text>
                )}
              </Text>
              {c.free_bytes !== null && c.free_bytes !== undefined ? (
                <Text size="sm">
                  {bytes(c.free_bytes)} free{c.capacity_bytes ? ` of ${bytes(c.capacity_bytes)}` : ""}
                </Text>
              ) : (
                <Text size="sm" c="orange">
                  Unknown
                </Text>
              )}
            </Group>
            {used !== null && (
              <Progress
                value={used}
                size="sm"
                color={used > 90 ? "red" : used > 75 ? "yellow" : "teal"}
                aria-label={`${c.container}: ${Math.round(used)}% used`}
              />
            )}
            {c.unknown && (
              <Text size="xs" c="orange">
                {c.unknown}
              </Text>
            )}
          </Stack>
        );
      })}
    </>
  );
}
