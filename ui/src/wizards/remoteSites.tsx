// The AHV half of the Enable DR wizard: the remote sites (addresses, ports, replication
// settings), the vStore mapping table and Test connection. The state lives in the wizard; these
// steps show it and report edits.
import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  NativeSelect,
  NumberInput,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { IconInfoCircle } from "@tabler/icons-react";
import type { ChangeEvent, ReactNode } from "react";

import type {
  BothClusterContainers_Serialize,
  Check,
  ContainerChoice_Serialize,
  DrConnectionCheck_Serialize,
  EnableAhvDr_Deserialize,
  VstoreMapping,
} from "../bindings";
import { CheckList } from "./parts";

export type SitesForm = {
  /** The site on the secondary that points back at the primary (named for the primary). */
  primarySite: string;
  primaryAddress: string;
  primaryPort: number | string;
  primaryCheckPorts: string;
  /** The site on the primary that points at the secondary (named for the secondary). */
  secondarySite: string;
  secondaryAddress: string;
  secondaryPort: number | string;
  secondaryCheckPorts: string;
  limitBandwidth: boolean;
  bandwidthMbps: number | string;
  compression: boolean;
};

export type Errors = Record<string, string | undefined>;

/** "2009, 2020" as ports, or null when one is not a port. */
export function parsePorts(s: string): number[] | null {
  const parts = s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);
  const ports = parts.map(Number);
  return ports.length > 0 && ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ? ports : null;
}

const portOk = (p: number | string) => Number.isInteger(Number(p)) && Number(p) >= 1 && Number(p) <= 65535;

export function validateSites(f: SitesForm): Errors {
  const e: Errors = {};
  const site = (v: string) =>
    !v.trim()
      ? "Name the remote site (letters, digits, - and _), e.g. the cluster's name."
      : /^[A-Za-z0-9_.-]+$/.test(v.trim())
        ? undefined
        : "Use only letters, digits, '-', '_' and '.' in a remote site's name.";
  const address = (v: string) =>
    !v.trim()
      ? "Enter the address the other cluster reaches this one at: its virtual IP or a CVM's IP."
      : /[\s/]/.test(v.trim())
        ? "Enter one address, without spaces or a path, e.g. 10.1.2.3."
        : undefined;
  e.primarySite = site(f.primarySite);
  e.secondarySite = site(f.secondarySite);
  if (!e.primarySite && f.primarySite.trim() === f.secondarySite.trim())
    e.secondarySite = "The two remote sites need different names.";
  e.primaryAddress = address(f.primaryAddress);
  e.secondaryAddress = address(f.secondaryAddress);
  const port = "The replication port is a number from 1 to 65535 (Nutanix uses 2020).";
  if (!portOk(f.primaryPort)) e.primaryPort = port;
  if (!portOk(f.secondaryPort)) e.secondaryPort = port;
  const ports = "List ports separated by commas, e.g. 2009, 2020.";
  if (!parsePorts(f.primaryCheckPorts)) e.primaryCheckPorts = ports;
  if (!parsePorts(f.secondaryCheckPorts)) e.secondaryCheckPorts = ports;
  if (f.limitBandwidth) {
    const b = Number(f.bandwidthMbps);
    if (!Number.isFinite(b) || b <= 0) e.bandwidthMbps = "Enter a limit above 0 Mbit/s, or turn the limit off.";
  }
  return e;
}

/** The request both Test connection and Enable send: one source of truth for the plan. */
export function ahvRequest(
  ids: { primary: string; secondary: string; frameAccount: string },
  f: SitesForm,
  mapping: Record<string, string>,
): EnableAhvDr_Deserialize {
  const mappings: VstoreMapping[] = Object.entries(mapping)
    .filter(([, d]) => d)
    .map(([source, destination]) => ({ source, destination }));
  return {
    primary: ids.primary,
    secondary: ids.secondary,
    frame_account: ids.frameAccount.trim(),
    plan: {
      primary: { site_name: f.primarySite.trim(), address: f.primaryAddress.trim(), port: Number(f.primaryPort) },
      secondary: { site_name: f.secondarySite.trim(), address: f.secondaryAddress.trim(), port: Number(f.secondaryPort) },
      mappings,
      // Empty: the engine makes the reverse site's mapping the inverse of this one.
      reverse_mappings: [],
      bandwidth_limit_bytes_per_sec: f.limitBandwidth ? Math.round((Number(f.bandwidthMbps) * 1_000_000) / 8) : null,
      compression: f.compression,
    },
    primary_ports: parsePorts(f.primaryCheckPorts),
    secondary_ports: parsePorts(f.secondaryCheckPorts),
  };
}

/** The reverse site's mapping as the engine derives it (first source wins a shared destination). */
export function reverseOf(mappings: VstoreMapping[]): VstoreMapping[] {
  const seen = new Set<string>();
  return mappings
    .filter((m) => !seen.has(m.destination) && seen.add(m.destination))
    .map((m) => ({ source: m.destination, destination: m.source }));
}

/**
 * The first guess of the mapping: what the primary's site to this secondary maps already, else a
 * container of the same name on the secondary. Nutanix-managed containers (NutanixManagementShare)
 * never hold Frame's resources and are never preselected.
 */
export function initialMapping(c: BothClusterContainers_Serialize, siteOnPrimary: string): Record<string, string> {
  const usable = new Set(c.secondary.filter((s) => !s.nutanix_managed).map((s) => s.name));
  const out: Record<string, string> = {};
  for (const src of c.primary) {
    const existing = src.mapped[siteOnPrimary];
    if (src.nutanix_managed) out[src.name] = "";
    else if (existing && usable.has(existing)) out[src.name] = existing;
    else out[src.name] = usable.has(src.name) ? src.name : "";
  }
  return out;
}

function gib(bytes: number | null | undefined) {
  if (bytes === null || bytes === undefined) return "unknown";
  const g = bytes / 1024 ** 3;
  return g >= 1024 ? `${(g / 1024).toFixed(1)} TiB` : `${g.toFixed(g >= 100 ? 0 : 1)} GiB`;
}

export function SitesStep(props: {
  form: SitesForm;
  errors: Errors;
  primaryName: string;
  secondaryName: string;
  onChange: (f: SitesForm) => void;
}) {
  const f = props.form;
  const set = (k: keyof SitesForm) => (v: string | number | boolean) => props.onChange({ ...f, [k]: v });
  const text = (k: keyof SitesForm) => (e: ChangeEvent<HTMLInputElement>) => set(k)(e.currentTarget.value);
  const side = (title: string, body: ReactNode) => (
    <Card withBorder padding="md">
      <Title order={3} size="h6" mb="xs">
        {title}
      </Title>
      <Stack gap="sm">{body}</Stack>
    </Card>
  );
  // One site's fields: named for the cluster it points at (`which`), made on the other (`on`).
  const end = (which: "primary" | "secondary", on: "primary" | "secondary", first: boolean) => {
    const k = (field: "Site" | "Address" | "Port" | "CheckPorts") => `${which}${field}` as keyof SitesForm;
    return (
      <>
        <TextInput
          label={`Remote site name on the ${on}`}
          value={f[k("Site")] as string}
          onChange={text(k("Site"))}
          error={props.errors[k("Site")]}
          data-autofocus={first || undefined}
        />
        <Group grow align="flex-start">
          <TextInput
            label={`Address of the ${which}`}
            value={f[k("Address")] as string}
            onChange={text(k("Address"))}
            error={props.errors[k("Address")]}
            style={{ flexGrow: 2 }}
          />
          <NumberInput
            label="Replication port"
            min={1}
            max={65535}
            allowDecimal={false}
            value={f[k("Port")] as number | string}
            onChange={set(k("Port"))}
            error={props.errors[k("Port")]}
          />
        </Group>
        <TextInput
          label={`Ports checked on the ${which}`}
          description="Test connection tries each from this computer."
          value={f[k("CheckPorts")] as string}
          onChange={text(k("CheckPorts"))}
          error={props.errors[k("CheckPorts")]}
        />
      </>
    );
  };
  return (
    <>
      <Text size="sm">
        Each cluster gets a remote site pointing at the other: replicas go from {props.primaryName} to{" "}
        {props.secondaryName}, and restores can come back the other way. The addresses are those each cluster reaches
        the other at (the virtual IP or a CVM's IP), which may differ from the ones this computer uses.
      </Text>
      <SimpleGrid cols={2}>
        {side(`Secondary: ${props.secondaryName}`, end("secondary", "primary", true))}
        {side(`Primary: ${props.primaryName} (the reverse site)`, end("primary", "secondary", false))}
      </SimpleGrid>
      {side(
        "Replication settings (both sites)",
        <Group align="flex-start" gap="xl">
          <Switch
            label="Compress replication traffic"
            checked={f.compression}
            onChange={(e) => set("compression")(e.currentTarget.checked)}
          />
          <Stack gap={6}>
            <Switch
              label="Limit bandwidth"
              checked={f.limitBandwidth}
              onChange={(e) => set("limitBandwidth")(e.currentTarget.checked)}
            />
            {f.limitBandwidth && (
              <NumberInput
                label="Bandwidth limit (Mbit/s)"
                min={1}
                value={f.bandwidthMbps}
                onChange={set("bandwidthMbps")}
                error={props.errors.bandwidthMbps}
                w={220}
              />
            )}
          </Stack>
        </Group>,
      )}
    </>
  );
}

export function MappingStep(props: {
  containers: BothClusterContainers_Serialize;
  mapping: Record<string, string>;
  accountContainers: string[];
  frameAccount: string;
  primaryName: string;
  secondaryName: string;
  error?: string;
  onChange: (m: Record<string, string>) => void;
}) {
  const options = [
    { value: "", label: "Not replicated" },
    ...props.containers.secondary
      .filter((c) => !c.nutanix_managed)
      .map((c) => ({ value: c.name, label: `${c.name} (${gib(c.free_bytes)} free)` })),
  ];
  const row = (c: ContainerChoice_Serialize, i: number) => {
    const holds = props.accountContainers.includes(c.name);
    const unmapped = holds && !props.mapping[c.name];
    return (
      <Table.Tr key={c.uuid} data-source={c.name}>
        <Table.Td>
          <Text size="sm" fw={500} id={`src-${i}`}>
            {c.name}
          </Text>
          <Group gap={4} mt={2}>
            {holds && (
              <Badge size="sm" variant="light" tt="none">
                holds {props.frameAccount}
              </Badge>
            )}
            {c.nutanix_managed && (
              <Badge size="sm" variant="light" color="gray" tt="none">
                Nutanix managed
              </Badge>
            )}
          </Group>
        </Table.Td>
        <Table.Td style={{ whiteSpace: "nowrap" }}>{gib(c.free_bytes)}</Table.Td>
        <Table.Td>
          <NativeSelect
            aria-label={`Destination for ${c.name}`}
            data={options}
            value={props.mapping[c.name] ?? ""}
            onChange={(e) => props.onChange({ ...props.mapping, [c.name]: e.currentTarget.value })}
            error={
              unmapped
                ? `Holds ${props.frameAccount}'s resources: choose a destination, or they cannot be replicated.`
                : undefined
            }
            data-autofocus={i === 0 ? true : undefined}
          />
        </Table.Td>
      </Table.Tr>
    );
  };
  return (
    <>
      <Text size="sm">
        One row per storage container of {props.primaryName}: choose the container of {props.secondaryName} that
        receives its replicas. Several containers may share one destination. The reverse site maps back the other way
        (for a shared destination, to the first container mapped to it).
      </Text>
      {props.error && (
        <Alert color="red" variant="light" role="alert">
          {props.error}
        </Alert>
      )}
      <Table withTableBorder verticalSpacing="xs" data-testid="vstore-mapping">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Source container ({props.primaryName})</Table.Th>
            <Table.Th>Free</Table.Th>
            <Table.Th>Destination container ({props.secondaryName})</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{props.containers.primary.map(row)}</Table.Tbody>
      </Table>
    </>
  );
}

/** Which side a check speaks for: the primary's site looks at the secondary, and back. */
function sideOf(c: Check): "primary" | "secondary" {
  if (c.name === "Remote site on the secondary" || c.name.endsWith("(primary)")) return "secondary";
  return "primary";
}

export function TestStep(props: {
  result: DrConnectionCheck_Serialize | null;
  stale: boolean;
  primaryName: string;
  secondaryName: string;
  children?: ReactNode;
}) {
  const r = props.result;
  const fromPrimary = r ? r.test.checks.filter((c) => sideOf(c) === "primary") : [];
  const fromSecondary = r ? r.test.checks.filter((c) => sideOf(c) === "secondary") : [];
  const action = (a: string) => ({ created: "created", updated: "updated", unchanged: "already up to date" })[a] ?? a;
  return (
    <>
      <Alert variant="light" color="blue" icon={<IconInfoCircle />}>
        Test connection creates or updates the remote site on each cluster with the settings of the previous steps,
        then checks both directions: the sites' status, the replication ports from this computer, and that every
        container holding the account's resources is mapped. Nothing is protected until you select Enable.
      </Alert>
      {props.children}
      {r && (
        <div data-testid="connection-test" aria-live="polite">
          {props.stale && (
            <Alert color="yellow" variant="light" mb="sm">
              The settings changed since this test: test again before you go on.
            </Alert>
          )}
          <Alert
            color={r.test.ok ? "teal" : "red"}
            variant="light"
            title={r.test.ok ? "The clusters can replicate" : "The clusters cannot replicate yet"}
            mb="sm"
          >
            {r.test.ok
              ? "Every check passed in both directions."
              : "Fix what each failed check says (Back to the remote sites or the vStore mapping), then test again."}
          </Alert>
          <SimpleGrid cols={2}>
            <Stack gap="xs">
              <Title order={3} size="h6">
                From {props.primaryName}
              </Title>
              <Text size="xs" c="dimmed">
                Remote site {r.sites.on_primary.site_name}: {action(r.sites.on_primary.action)}
              </Text>
              <CheckList checks={fromPrimary} label={`Checks from ${props.primaryName}`} />
            </Stack>
            <Stack gap="xs">
              <Title order={3} size="h6">
                From {props.secondaryName} (reverse site)
              </Title>
              <Text size="xs" c="dimmed">
                Remote site {r.sites.on_secondary.site_name}: {action(r.sites.on_secondary.action)}
              </Text>
              <CheckList checks={fromSecondary} label={`Checks from ${props.secondaryName}`} />
            </Stack>
          </SimpleGrid>
        </div>
      )}
    </>
  );
}

export function BackTo(props: { label: string; onClick: () => void }) {
  return (
    <Button variant="default" onClick={props.onClick}>
      {props.label}
    </Button>
  );
}
