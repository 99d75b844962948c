import { Badge, Button, Group, Loader, Menu, Select, Stack, Table, Text, TextInput, UnstyledButton } from "@mantine/core";
import {
  IconArrowsSort,
  IconChevronDown,
  IconResize,
  IconSearch,
  IconSortAscending,
  IconSortDescending,
} from "@tabler/icons-react";
import { useEffect, useMemo, useState } from "react";

import { commands, type ApiError, type CloudAccount, type DiscoveredResource, type ResourceKind } from "../bindings";
import { AutogrowSettings } from "../policies/AutogrowSettings";
import { ErrorNotice } from "./ErrorNotice";

const KIND: Record<ResourceKind, string> = {
  sandbox: "Sandbox",
  utility_server: "Utility server",
  persistent_desktop: "Persistent desktop",
  enterprise_profile: "Enterprise profile",
  personal_drive: "Personal drive",
  template_image: "Template image",
};

type SortKey = "name" | "kind" | "owner" | "size";

const GIB = 1024 ** 3;

/** Lists what discovery finds for a Frame account on a cloud account: the engine's answer, as is. */
export function VolumeBrowser(props: { accounts: CloudAccount[] }) {
  const [accountId, setAccountId] = useState<string | null>(props.accounts[0]?.id ?? null);
  const [frameAccount, setFrameAccount] = useState("");
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [volumes, setVolumes] = useState<DiscoveredResource[] | null>(null);
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: "name", desc: false });
  const [dialog, setDialog] = useState<"autogrow" | null>(null);

  // The Frame account DR was enabled for on this cloud account, when there is one.
  useEffect(() => {
    let live = true;
    void commands.drConfigs().then((out) => {
      if (!live || out.status !== "ok") return;
      const known = out.data.find((c) => c.account_id === accountId);
      if (known) setFrameAccount(known.frame_account);
    });
    return () => {
      live = false;
    };
  }, [accountId]);

  async function list() {
    if (!accountId || !frameAccount.trim()) return;
    setLoading(true);
    setError(null);
    const out = await commands.discoverResources(accountId, frameAccount.trim());
    if (out.status === "ok") setVolumes(out.data);
    else {
      setVolumes(null);
      setError(out.error);
    }
    setLoading(false);
  }

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const rows = (volumes ?? []).filter((v) => !needle || v.name.toLowerCase().includes(needle));
    const value = (v: DiscoveredResource): string | number =>
      sort.key === "size" ? (v.size_bytes ?? 0) : sort.key === "kind" ? KIND[v.kind] : sort.key === "owner" ? (v.owner ?? "") : v.name;
    rows.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return sort.desc ? -c : c;
    });
    return rows;
  }, [volumes, search, sort]);

  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    const Icon = !active ? IconArrowsSort : sort.desc ? IconSortDescending : IconSortAscending;
    return (
      <Table.Th aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}>
        <UnstyledButton
          onClick={() => setSort({ key, desc: active ? !sort.desc : false })}
          aria-label={`Sort by ${label}`}
          style={{ display: "inline-flex", alignItems: "center", gap: 4, fontWeight: 600 }}
        >
          {label} <Icon size={14} aria-hidden />
        </UnstyledButton>
      </Table.Th>
    );
  };

  return (
    <Stack gap="md">
      <Group align="flex-end" gap="sm">
        <Select
          label="Cloud account"
          data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
          value={accountId}
          onChange={setAccountId}
          allowDeselect={false}
          w={240}
        />
        <TextInput
          label="Frame account"
          placeholder="e.g. acme-pd"
          value={frameAccount}
          onChange={(e) => setFrameAccount(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && void list()}
          w={220}
          data-testid="frame-account"
        />
        <Button onClick={() => void list()} loading={loading} disabled={!accountId || !frameAccount.trim()}>
          List volumes
        </Button>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <Button variant="default" rightSection={<IconChevronDown size={14} />} ml="auto">
              Volume actions
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item leftSection={<IconResize size={16} />} onClick={() => setDialog("autogrow")}>
              Autogrow settings
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Group>
      {dialog === "autogrow" && (
        <AutogrowSettings
          accounts={props.accounts}
          initialAccount={accountId}
          frameAccount={frameAccount.trim()}
          onClose={() => setDialog(null)}
        />
      )}
      {error && <ErrorNotice title="The volumes could not be listed" error={error} />}
      {loading && !volumes && <Loader aria-label="Listing volumes" />}
      {volumes && (
        <>
          <TextInput
            leftSection={<IconSearch size={16} />}
            placeholder="Search by volume name"
            aria-label="Search by volume name"
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            maw={360}
          />
          <Table.ScrollContainer minWidth={820}>
          <Table striped highlightOnHover verticalSpacing="xs" data-testid="volumes-table">
            <Table.Thead>
              <Table.Tr>
                {header("name", "Name")}
                {header("kind", "Type")}
                {header("owner", "Owner")}
                {header("size", "Size")}
                <Table.Th>State</Table.Th>
                <Table.Th>Where</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((v) => (
                <Table.Tr key={v.provider_id}>
                  <Table.Td fw={600} style={{ whiteSpace: "nowrap" }}>
                    {v.name}
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    {KIND[v.kind]}
                    {v.not_protected_reason && (
                      <Badge ml={6} color="gray" variant="light" tt="none" title={v.not_protected_reason}>
                        Not backed up
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{v.owner ?? "—"}</Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>{Math.round((v.size_bytes ?? 0) / GIB)} GiB</Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    {[v.desktop_state, v.power === "on" ? "running" : v.power === "off" ? "off" : v.power_detail]
                      .filter(Boolean)
                      .join(", ") || "—"}
                  </Table.Td>
                  <Table.Td>{v.location}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          </Table.ScrollContainer>
          <Text size="sm" c="dimmed" ta="right" data-testid="volume-count">
            {shown.length === volumes.length ? `${volumes.length} volumes` : `${shown.length} of ${volumes.length} volumes`}
          </Text>
        </>
      )}
    </Stack>
  );
}
