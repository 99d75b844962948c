// The Azure half of the Enable DR wizard: the secondary region, the resource group that receives
// the replicas, and the region's quota headroom for this Frame account.
import { Alert, Badge, Group, NumberInput, Table, Text, TextInput } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import type { ChangeEvent } from "react";

import type { RegionCheck_Serialize } from "../bindings";
import { num } from "../numbers";

export type RegionForm = { region: string; group: string; replicasKept: number | string };
export type Errors = Record<string, string | undefined>;

/** As the engine compares regions: "West Europe" is westeurope. */
export const normalizeRegion = (r: string) => r.replace(/\s+/g, "").toLowerCase();

export function validateRegion(f: RegionForm, primaryRegion: string): Errors {
  const e: Errors = {};
  const r = normalizeRegion(f.region);
  if (!r) e.region = "Enter the secondary region, another region of the same subscription, e.g. northeurope.";
  else if (!/^[a-z0-9]+$/.test(r)) e.region = "A region name has only letters and digits, e.g. northeurope.";
  else if (r === normalizeRegion(primaryRegion))
    e.region = `The secondary region must differ from the primary region (${primaryRegion}): a copy in the same region does not survive the region's outage.`;
  if (!f.group.trim()) e.group = "Name the resource group that receives the replicas; it must exist in the subscription.";
  else if (!/^[-\w.()]+$/.test(f.group.trim()))
    e.group = "A resource group name has letters, digits, '-', '_', '.', and parentheses only.";
  const n = Number(f.replicasKept);
  if (!Number.isInteger(n) || n < 1 || n > 500) e.replicasKept = "Keep between 1 and 500 replicas per resource.";
  return e;
}

export function RegionStep(props: {
  form: RegionForm;
  errors: Errors;
  primaryRegion: string;
  accountName: string;
  check: RegionCheck_Serialize | null;
  stale: boolean;
  onChange: (f: RegionForm) => void;
}) {
  const f = props.form;
  const text = (k: keyof RegionForm) => (e: ChangeEvent<HTMLInputElement>) =>
    props.onChange({ ...f, [k]: e.currentTarget.value });
  const c = props.check;
  const warnings = c ? c.quota.lines.filter((l) => !l.ok) : [];
  return (
    <>
      <Text size="sm">
        Replicas of the account's disks are copied from <b>{props.primaryRegion}</b> (the region of {props.accountName})
        to another region of the same subscription, where they can be restored if {props.primaryRegion} is lost.
      </Text>
      <Group grow align="flex-start">
        <TextInput
          label="Secondary region"
          description="e.g. northeurope"
          required
          value={f.region}
          onChange={text("region")}
          error={props.errors.region}
          data-autofocus
        />
        <TextInput
          label="Resource group for replicas"
          description="In the secondary region; it must exist."
          required
          value={f.group}
          onChange={text("group")}
          error={props.errors.group}
        />
        <NumberInput
          label="Replicas kept per resource"
          description="For the quota estimate."
          min={1}
          max={500}
          allowDecimal={false}
          value={f.replicasKept}
          onChange={(v) => props.onChange({ ...f, replicasKept: v })}
          error={props.errors.replicasKept}
        />
      </Group>
      {c && (
        <div data-testid="region-check" aria-live="polite">
          {props.stale && (
            <Alert color="yellow" variant="light" mb="sm">
              The settings changed since this check: check again before you go on.
            </Alert>
          )}
          {c.problems.length > 0 && (
            <Alert
              color="red"
              variant="light"
              icon={<IconAlertTriangle />}
              title={`${c.secondary || "This region"} cannot be the secondary region`}
              role="alert"
              mb="sm"
            >
              {c.problems.map((p) => (
                <Text size="sm" key={p}>
                  {p}
                </Text>
              ))}
            </Alert>
          )}
          {c.quota.lines.length > 0 && (
            <Table withTableBorder verticalSpacing="xs" data-testid="quota">
              <Table.Caption>
                Quota of {c.quota.region}: what is used, the limit, and what this account would add there.
              </Table.Caption>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Counter</Table.Th>
                  <Table.Th ta="right">In use</Table.Th>
                  <Table.Th ta="right">Limit</Table.Th>
                  <Table.Th ta="right">Headroom</Table.Th>
                  <Table.Th ta="right">This account needs</Table.Th>
                  <Table.Th>State</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {c.quota.lines.map((l) => (
                  <Table.Tr key={l.code} data-quota={l.code}>
                    <Table.Td>{l.name}</Table.Td>
                    <Table.Td ta="right">{num(l.current)}</Table.Td>
                    <Table.Td ta="right">{num(l.limit)}</Table.Td>
                    <Table.Td ta="right">{num(Math.max(0, l.limit - l.current))}</Table.Td>
                    <Table.Td ta="right">{num(l.needed)}</Table.Td>
                    <Table.Td>
                      <Badge color={l.ok ? "teal" : "orange"} variant="light" tt="none">
                        {l.ok ? "enough" : "short"}
                      </Badge>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {warnings.length > 0 && (
            <Alert color="orange" variant="light" title="Quota would run short" mt="sm">
              {warnings.map((l) => (
                <Text size="sm" key={l.code}>
                  {l.message}
                </Text>
              ))}
              <Text size="sm" mt={4}>
                Disaster recovery can still be enabled; ask for a quota increase in the Azure portal (Subscriptions &gt;
                Usage + quotas) before the replicas or a restore need it.
              </Text>
            </Alert>
          )}
          {c.problems.length === 0 && warnings.length === 0 && (
            <Alert color="teal" variant="light">
              {c.secondary} is usable and has room for this account's replicas and restores.
            </Alert>
          )}
        </div>
      )}
    </>
  );
}
