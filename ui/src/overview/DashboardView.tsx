// Protection at a glance (`dashboard`): per cloud account and Frame account, what is protected by
// kind, the age of the newest usable backup and replica, the volume whose last backup is the
// oldest, replication lag, the next scheduled run and the last 7 days' failures and skips; then
// the secondary's headroom, read live per account once the rest is on screen.

import { Badge, Card, Divider, Group, Paper, RingProgress, SimpleGrid, Stack, Table, Text, ThemeIcon, Title } from "@mantine/core";
import {
  IconAlertTriangle,
  IconCalendarTime,
  IconCircleCheck,
  IconClockHour4,
  IconCloud,
  IconPlayerSkipForward,
  IconShieldCheck,
} from "@tabler/icons-react";
import type { ReactNode } from "react";

import type { AccountDashboard_Serialize, Dashboard_Serialize, FrameDashboard_Serialize, KindProtection } from "../bindings";
import { Headroom } from "./Headroom";
import { KIND, KINDS, ago, duration, plural } from "./words";
import { num } from "../numbers";

/** Resources of a kind Standby protects (template images are listed, never backed up). */
function protectable(f: FrameDashboard_Serialize): { protected: number; total: number; templates: number } {
  const templates = f.by_kind.find((k) => k.kind === "template_image")?.total ?? 0;
  return { protected: f.protected, total: f.volumes - templates, templates };
}

export function DashboardView(props: { dashboard: Dashboard_Serialize; accountCount: number }) {
  const d = props.dashboard;
  const frames = d.accounts.flatMap((a) => a.frame_accounts);
  const sum = (f: (x: ReturnType<typeof protectable>) => number) => frames.map(protectable).reduce((n, x) => n + f(x), 0);
  const prot = sum((x) => x.protected);
  const total = sum((x) => x.total);
  const failed = d.accounts.reduce((n, a) => n + a.failed_jobs.count, 0);
  const skipped = d.accounts.reduce((n, a) => n + a.skipped.count, 0);
  return (
    <Stack gap="lg">
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Stat icon={<IconCloud size={20} />} color="blue" label="Cloud accounts" value={props.accountCount} testid="account-count" />
        <Stat
          icon={<IconShieldCheck size={20} />}
          color={total > 0 && prot === total ? "teal" : "yellow"}
          label="Resources protected"
          value={`${num(prot)} of ${num(total)}`}
          testid="protected-total"
        />
        <Stat
          icon={<IconAlertTriangle size={20} />}
          color={failed ? "red" : "gray"}
          label="Failed jobs, last 7 days"
          value={failed}
          testid="failed-total"
        />
        <Stat
          icon={<IconPlayerSkipForward size={20} />}
          color={skipped ? "orange" : "gray"}
          label="Skipped, last 7 days"
          value={skipped}
          testid="skipped-total"
        />
      </SimpleGrid>
      {d.accounts.map((a) => (
        <AccountCard key={a.account_id} account={a} />
      ))}
    </Stack>
  );
}

function Stat(props: { icon: ReactNode; color: string; label: string; value: ReactNode; testid: string }) {
  return (
    <Card withBorder padding="md">
      <Group gap="sm" wrap="nowrap">
        <ThemeIcon variant="light" color={props.color} size={40} radius="md" aria-hidden>
          {props.icon}
        </ThemeIcon>
        <div>
          <Text c="dimmed" size="xs" tt="uppercase" fw={600}>
            {props.label}
          </Text>
          <Text fw={700} size="xl" data-testid={props.testid}>
            {props.value}
          </Text>
        </div>
      </Group>
    </Card>
  );
}

function AccountCard(props: { account: AccountDashboard_Serialize }) {
  const a = props.account;
  const hasDr = a.frame_accounts.some((f) => f.dr);
  return (
    <Card withBorder padding="lg" data-testid={`dash-account-${a.account_name}`} component="section" aria-labelledby={`dash-${a.account_id}`}>
      <Group justify="space-between" align="flex-start" mb="md">
        <Group gap="sm">
          <Title order={2} size="h4" id={`dash-${a.account_id}`}>
            {a.account_name}
          </Title>
          <Badge variant="light" color={a.provider === "ahv" ? "indigo" : "cyan"} tt="none">
            {a.provider === "ahv" ? "Nutanix AHV" : "Azure"}
          </Badge>
        </Group>
        <Group gap={6} data-testid="next-run">
          <IconCalendarTime size={18} aria-hidden />
          {a.next_run ? (
            <Text size="sm">
              Next scheduled run <b>{a.next_run.local}</b> (in {duration(a.next_run.in_secs)}, {a.next_run.frame_account})
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              No scheduled run: {a.no_next_run}
            </Text>
          )}
        </Group>
      </Group>
      {a.frame_accounts.length === 0 && (
        <Text size="sm" c="dimmed">
          No Frame account known yet: discover the account's resources (Volumes, <b>Refresh from the provider</b>) or enable
          disaster recovery.
        </Text>
      )}
      <Stack gap="lg">
        {a.frame_accounts.map((f) => (
          <FrameSection key={f.frame_account} frame={f} />
        ))}
      </Stack>
      <Divider my="md" />
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="lg">
        <Recent
          title="Failed jobs"
          count={a.failed_jobs.count}
          testid="failed-jobs"
          color="red"
          items={a.failed_jobs.latest.map((j) => ({ key: j.id, what: j.kind.replace(/_/g, " "), why: j.error, at: j.failed_at }))}
        />
        <Recent
          title="Skipped volumes"
          count={a.skipped.count}
          testid="skipped"
          color="orange"
          items={a.skipped.latest.map((s) => ({ key: `${s.volume_id}-${s.at}`, what: s.volume_name, why: s.message, at: s.at }))}
        />
      </SimpleGrid>
      <Divider my="md" />
      <Stack gap="xs">
        <Text fw={600} size="sm">
          Secondary headroom
        </Text>
        {hasDr ? (
          <Headroom account={a.account_id} accountName={a.account_name} />
        ) : (
          <Text size="sm" c="dimmed">
            No secondary: disaster recovery is not enabled for this account.
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function FrameSection(props: { frame: FrameDashboard_Serialize }) {
  const f = props.frame;
  const p = protectable(f);
  const pct = p.total ? (p.protected / p.total) * 100 : 0;
  const color = p.total === 0 ? "gray" : pct === 100 ? "teal" : pct >= 80 ? "yellow" : "red";
  const r = f.replication;
  return (
    <Paper withBorder p="md" radius="md" data-testid={`dash-frame-${f.frame_account}`}>
      <Group gap="sm" mb="sm">
        <Title order={3} size="h5">
          Frame account {f.frame_account}
        </Title>
        {f.dr ? (
          <Badge variant="light" color="teal" tt="none" leftSection={<IconCircleCheck size={12} />}>
            Replicates to{" "}
            {f.dr.target.kind === "ahv" ? f.dr.target.secondary_account_name : f.dr.target.secondary_region}
          </Badge>
        ) : (
          <Badge variant="light" color="orange" tt="none">
            Disaster recovery not enabled
          </Badge>
        )}
      </Group>
      <Group align="flex-start" gap="xl" wrap="wrap">
        <Stack align="center" gap={0}>
          <RingProgress
            size={116}
            thickness={11}
            roundCaps
            // A zero-length section with round caps still draws a dot: none at all when nothing is protected.
            sections={pct > 0 ? [{ value: pct, color }] : []}
            label={
              <Text ta="center" fw={700} size="lg" data-testid="protected-ratio">
                {p.protected}/{p.total}
              </Text>
            }
            aria-label={`${p.protected} of ${p.total} resources protected`}
          />
          <Text size="xs" c="dimmed">
            protected
          </Text>
        </Stack>
        <SimpleGrid cols={{ base: 2, lg: 4 }} spacing="md" style={{ flex: 1, minWidth: 320 }}>
          <Figure label="Newest backup" value={f.newest_backup ? ago(f.newest_backup.age_secs) : "None"} testid="newest-backup" warn={!f.newest_backup} />
          <Figure label="Newest replica" value={f.newest_replica ? ago(f.newest_replica.age_secs) : "None"} testid="newest-replica" warn={!f.newest_replica && !!f.dr} />
          <Figure
            label="Oldest last backup"
            value={f.worst_volume ? ago(f.worst_volume.last_backup.age_secs) : "—"}
            sub={f.worst_volume ? `${f.worst_volume.name} (${KIND[f.worst_volume.kind].toLowerCase()})` : undefined}
            testid="worst-volume"
          />
          <Figure
            label="Replication lag"
            value={r.lag_secs === null ? "None" : duration(r.lag_secs)}
            sub={`${plural(r.in_progress, "replica")} in progress${r.failed_recently ? `, ${r.failed_recently} failed (7 days)` : ""}`}
            testid="replication"
            warn={r.failed_recently > 0}
          />
        </SimpleGrid>
      </Group>
      <Group align="flex-start" gap="xl" mt="md" wrap="wrap">
        <KindTable kinds={f.by_kind} />
        {f.without_backup > 0 && (
          <Stack gap={2} maw={360} data-testid="without-backup">
            <Text size="sm" fw={600} c="red">
              {plural(f.without_backup, "volume")} without any backup
            </Text>
            <Text size="xs" c="dimmed">
              {f.without_backup_names.join(", ")}
              {f.without_backup > f.without_backup_names.length ? ", …" : ""}
            </Text>
          </Stack>
        )}
      </Group>
    </Paper>
  );
}

function Figure(props: { label: string; value: string; sub?: string; testid: string; warn?: boolean }) {
  return (
    <div data-testid={props.testid}>
      <Group gap={4}>
        <IconClockHour4 size={14} aria-hidden style={{ opacity: 0.6 }} />
        <Text size="xs" c="dimmed" fw={600}>
          {props.label}
        </Text>
      </Group>
      <Text fw={700} size="lg" c={props.warn ? "red" : undefined}>
        {props.value}
      </Text>
      {props.sub && (
        <Text size="xs" c="dimmed" lineClamp={2}>
          {props.sub}
        </Text>
      )}
    </div>
  );
}

function KindTable(props: { kinds: KindProtection[] }) {
  if (props.kinds.length === 0) return null;
  return (
    <Table verticalSpacing={4} horizontalSpacing="sm" fz="sm" w="auto" data-testid="by-kind">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Resources</Table.Th>
          <Table.Th ta="right">Protected</Table.Th>
          <Table.Th ta="right">No backup yet</Table.Th>
          <Table.Th ta="right">No DR</Table.Th>
          <Table.Th ta="right">Total</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.kinds.map((k) => (
          <Table.Tr key={k.kind} data-kind={k.kind}>
            <Table.Td>{KINDS[k.kind]}</Table.Td>
            {k.kind === "template_image" ? (
              <Table.Td colSpan={3} ta="right" c="dimmed">
                not backed up
              </Table.Td>
            ) : (
              <>
                <Table.Td ta="right" c={k.protected === k.total ? "teal" : undefined} fw={600}>
                  {k.protected}
                </Table.Td>
                <Table.Td ta="right" c={k.no_backup ? "yellow.8" : "dimmed"}>
                  {k.no_backup}
                </Table.Td>
                <Table.Td ta="right" c={k.no_dr ? "orange" : "dimmed"}>
                  {k.no_dr}
                </Table.Td>
              </>
            )}
            <Table.Td ta="right">{k.total}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Recent(props: { title: string; count: number; testid: string; color: string; items: { key: string; what: string; why: string; at: string }[] }) {
  return (
    <Stack gap="xs" data-testid={props.testid}>
      <Group gap="xs">
        <Text fw={600} size="sm">
          {props.title}
        </Text>
        <Badge variant={props.count ? "filled" : "light"} color={props.count ? props.color : "gray"} data-testid={`${props.testid}-count`}>
          {props.count}
        </Badge>
        <Text size="xs" c="dimmed">
          last 7 days
        </Text>
      </Group>
      {props.items.length === 0 && (
        <Text size="sm" c="dimmed">
          None.
        </Text>
      )}
      {props.items.map((i) => (
        <div key={i.key}>
          <Group justify="space-between" gap="xs" wrap="nowrap">
            <Text size="sm" fw={500} truncate="end">
              {i.what}
            </Text>
            <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }} title={new Date(i.at).toLocaleString()}>
              {new Date(i.at).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" })}
            </Text>
          </Group>
          <Text size="xs" c="dimmed" lineClamp={2} title={i.why}>
            {i.why}
          </Text>
        </div>
      ))}
    </Stack>
  );
}
