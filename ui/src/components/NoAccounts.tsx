import { IconCloudOff } from "@tabler/icons-react";

import { EmptyState } from "./EmptyState";

/** What every account-scoped page shows before any cloud account exists. */
export function NoAccounts(props: { what: string; onAccountsPage?: boolean }) {
  return (
    <EmptyState icon={<IconCloudOff size={30} />} title="No cloud account yet">
      {props.what}
      {props.onAccountsPage
        ? " Standby protects the Frame accounts that run on them."
        : " Standby needs a cloud account first: a Nutanix Prism Element cluster or an Azure subscription, listed under Cloud accounts."}
    </EmptyState>
  );
}
