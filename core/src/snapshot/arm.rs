//! Typed views over raw ARM documents, in the shapes Microsoft publishes
//! (api-versions 2021-10-01 to 2026-09-01 for Cognitive Services). Every field
//! is optional, as ARM omits what is unset; a field of the wrong type is an
//! error that names its path. The raw document stays the evidence: views are
//! derived from it and never replace it.

use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A document that does not have the shape of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: at {path}: {message}")]
pub struct ShapeError {
    pub kind: &'static str,
    /// Where in the document, e.g. `properties.contentFilters[2].enabled`.
    pub path: String,
    pub message: String,
}

fn view<T: DeserializeOwned>(kind: &'static str, doc: &Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(doc).map_err(|e| ShapeError {
        kind,
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Fields every ARM resource carries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub name: Option<String>,
    pub tier: Option<String>,
    pub capacity: Option<i64>,
}

/// Any ARM resource Attest keeps as evidence without reading its properties
/// (usages, model catalogues, Defender settings, policy definitions, …).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Resource {
    #[serde(flatten)]
    pub common: Common,
    pub properties: Option<Value>,
}

impl Resource {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("resource", doc)
    }
}

// ---------------------------------------------------------------- accounts

/// `Microsoft.CognitiveServices/accounts`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(flatten)]
    pub common: Common,
    pub kind: Option<String>,
    pub sku: Option<Sku>,
    pub identity: Option<Identity>,
    #[serde(default)]
    pub properties: AccountProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProperties {
    pub provisioning_state: Option<String>,
    pub endpoint: Option<String>,
    pub custom_sub_domain_name: Option<String>,
    /// `Enabled` | `Disabled`; absent means enabled.
    pub public_network_access: Option<String>,
    pub network_acls: Option<NetworkAcls>,
    /// The double negative ARM uses; read [`Account::key_access_enabled`].
    pub disable_local_auth: Option<bool>,
    pub restrict_outbound_network_access: Option<bool>,
    pub allowed_fqdn_list: Option<Vec<String>>,
    pub private_endpoint_connections: Option<Vec<Value>>,
    pub encryption: Option<Encryption>,
    pub user_owned_storage: Option<Vec<Value>>,
    pub date_created: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAcls {
    /// `Allow` | `Deny`.
    pub default_action: Option<String>,
    pub bypass: Option<String>,
    #[serde(default)]
    pub ip_rules: Option<Vec<IpRule>>,
    #[serde(default)]
    pub virtual_network_rules: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IpRule {
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// `None` | `SystemAssigned` | `UserAssigned` | `SystemAssigned, UserAssigned`.
    #[serde(rename = "type")]
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub tenant_id: Option<String>,
    pub user_assigned_identities: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    pub key_source: Option<String>,
    pub key_vault_properties: Option<Value>,
}

impl Account {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("account", doc)
    }

    /// Whether API keys work on this account. ARM stores the opposite,
    /// `disableLocalAuth`, and leaves it out when keys work: absent or false
    /// both mean keys are enabled.
    pub fn key_access_enabled(&self) -> bool {
        self.properties.disable_local_auth != Some(true)
    }

    /// Whether the account accepts traffic from public networks. Absent means
    /// enabled (the ARM default).
    pub fn public_network_access_enabled(&self) -> bool {
        !self.properties.public_network_access.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("Disabled"))
    }

    /// Whether this is an account Attest scans (kind OpenAI or AIServices).
    pub fn is_in_scope(&self) -> bool {
        self.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("OpenAI") || k.eq_ignore_ascii_case("AIServices"))
    }
}

// ------------------------------------------------------------- deployments

/// `Microsoft.CognitiveServices/accounts/deployments`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(flatten)]
    pub common: Common,
    pub sku: Option<Sku>,
    #[serde(default)]
    pub properties: DeploymentProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProperties {
    pub provisioning_state: Option<String>,
    pub model: Option<Model>,
    pub rai_policy_name: Option<String>,
    pub version_upgrade_option: Option<String>,
    pub deployment_state: Option<String>,
    pub service_tier: Option<String>,
    /// Before 2023, capacity lived here instead of in the SKU.
    pub scale_settings: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub format: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub source: Option<String>,
}

/// Where a deployment may process prompts, by its SKU name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentType {
    /// `Standard`, `ProvisionedManaged`, `DeveloperTier`: in the account's region.
    Regional,
    /// `DataZone*`: within the data zone of the account's region.
    DataZone,
    /// `Global*`: in any Azure region.
    Global,
    /// A SKU name Attest does not know.
    Unknown,
}

impl Deployment {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("deployment", doc)
    }

    /// Capacity units: the SKU's since 2023, `scaleSettings.capacity` before.
    pub fn capacity(&self) -> Option<i64> {
        self.sku
            .as_ref()
            .and_then(|s| s.capacity)
            .or_else(|| self.properties.scale_settings.as_ref().and_then(|s| s.get("capacity")).and_then(Value::as_i64))
    }

    pub fn deployment_type(&self) -> DeploymentType {
        match self.sku.as_ref().and_then(|s| s.name.as_deref()) {
            Some(n) if n.starts_with("Global") => DeploymentType::Global,
            Some(n) if n.starts_with("DataZone") => DeploymentType::DataZone,
            Some("Standard" | "ProvisionedManaged" | "DeveloperTier") => DeploymentType::Regional,
            _ => DeploymentType::Unknown,
        }
    }
}

// ------------------------------------------------------ content filtering

/// `Microsoft.CognitiveServices/accounts/raiPolicies` (content filters).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiPolicy {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: RaiPolicyProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiPolicyProperties {
    #[serde(rename = "type")]
    pub policy_type: Option<String>,
    pub mode: Option<String>,
    pub base_policy_name: Option<String>,
    #[serde(default)]
    pub content_filters: Option<Vec<ContentFilter>>,
    #[serde(default)]
    pub custom_blocklists: Option<Vec<CustomBlocklist>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentFilter {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub blocking: Option<bool>,
    /// `Low` | `Medium` | `High`.
    pub severity_threshold: Option<String>,
    /// `Prompt` | `Completion`.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomBlocklist {
    pub blocklist_name: Option<String>,
    pub blocking: Option<bool>,
    pub source: Option<String>,
}

impl RaiPolicy {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("RAI policy", doc)
    }

    /// The filter for `name` on `source`, compared case-insensitively.
    pub fn filter(&self, name: &str, source: &str) -> Option<&ContentFilter> {
        self.properties.content_filters.as_deref()?.iter().find(|f| {
            f.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name))
                && f.source.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(source))
        })
    }
}

/// `Microsoft.CognitiveServices/accounts/raiBlocklists` and their items.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiBlocklist {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiBlocklistItem {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: RaiBlocklistItemProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaiBlocklistItemProperties {
    pub pattern: Option<String>,
    pub is_regex: Option<bool>,
}

impl RaiBlocklist {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("RAI blocklist", doc)
    }
}

impl RaiBlocklistItem {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("RAI blocklist item", doc)
    }
}

// -------------------------------------------------------------- networking

/// `Microsoft.CognitiveServices/accounts/privateEndpointConnections`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointConnection {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: PrivateEndpointConnectionProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointConnectionProperties {
    pub private_endpoint: Option<IdRef>,
    pub private_link_service_connection_state: Option<ConnectionState>,
    pub provisioning_state: Option<String>,
    pub group_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdRef {
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionState {
    /// `Pending` | `Approved` | `Rejected` | `Disconnected`.
    pub status: Option<String>,
    pub description: Option<String>,
    pub actions_required: Option<String>,
}

impl PrivateEndpointConnection {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("private endpoint connection", doc)
    }

    pub fn is_approved(&self) -> bool {
        self.properties
            .private_link_service_connection_state
            .as_ref()
            .and_then(|s| s.status.as_deref())
            .is_some_and(|s| s.eq_ignore_ascii_case("Approved"))
    }
}

// ------------------------------------------------------------- monitoring

/// `Microsoft.Insights/diagnosticSettings`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticSetting {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: DiagnosticSettingProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticSettingProperties {
    pub workspace_id: Option<String>,
    pub storage_account_id: Option<String>,
    pub event_hub_authorization_rule_id: Option<String>,
    pub event_hub_name: Option<String>,
    pub log_analytics_destination_type: Option<String>,
    #[serde(default)]
    pub logs: Option<Vec<LogSetting>>,
    #[serde(default)]
    pub metrics: Option<Vec<LogSetting>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSetting {
    pub category: Option<String>,
    pub category_group: Option<String>,
    pub enabled: Option<bool>,
    pub retention_policy: Option<RetentionPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RetentionPolicy {
    pub enabled: Option<bool>,
    pub days: Option<i64>,
}

impl DiagnosticSetting {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("diagnostic setting", doc)
    }

    /// The Log Analytics workspace logs go to, if any (ARM writes "" for none).
    pub fn workspace(&self) -> Option<&str> {
        self.properties.workspace_id.as_deref().filter(|w| !w.is_empty())
    }

    /// Whether logs of `category` are sent: named directly, or through the
    /// `allLogs` group (or `audit` for the Audit category).
    pub fn sends(&self, category: &str) -> bool {
        self.properties.logs.as_deref().unwrap_or_default().iter().filter(|l| l.enabled == Some(true)).any(|l| {
            l.category.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(category))
                || l.category_group.as_deref().is_some_and(|g| {
                    g.eq_ignore_ascii_case("allLogs")
                        || (g.eq_ignore_ascii_case("audit") && category.eq_ignore_ascii_case("Audit"))
                })
        })
    }
}

// -------------------------------------------------------------------- RBAC

/// `Microsoft.Authorization/roleAssignments`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    pub role_definition_id: Option<String>,
    pub principal_id: Option<String>,
    /// `User` | `Group` | `ServicePrincipal` | `ForeignGroup` | `Device`.
    pub principal_type: Option<String>,
    pub scope: Option<String>,
    pub condition: Option<String>,
    pub condition_version: Option<String>,
}

impl RoleAssignment {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("role assignment", doc)
    }
}

/// `Microsoft.Authorization/roleDefinitions`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: Option<String>,
    /// `BuiltInRole` | `CustomRole`.
    #[serde(rename = "type")]
    pub role_type: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub assignable_scopes: Option<Vec<String>>,
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

impl RoleDefinition {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("role definition", doc)
    }
}

// ------------------------------------------------------------ Azure Policy

/// `Microsoft.Authorization/policyAssignments`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAssignment {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: PolicyAssignmentProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAssignmentProperties {
    pub display_name: Option<String>,
    pub policy_definition_id: Option<String>,
    pub scope: Option<String>,
    #[serde(default)]
    pub not_scopes: Option<Vec<String>>,
    pub parameters: Option<BTreeMap<String, Value>>,
    /// `Default` | `DoNotEnforce`.
    pub enforcement_mode: Option<String>,
    pub definition_version: Option<String>,
    pub metadata: Option<Value>,
}

impl PolicyAssignment {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("policy assignment", doc)
    }
}

/// `Microsoft.Authorization/policyExemptions`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyExemption {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub properties: PolicyExemptionProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyExemptionProperties {
    pub policy_assignment_id: Option<String>,
    #[serde(default)]
    pub policy_definition_reference_ids: Option<Vec<String>>,
    /// `Waiver` | `Mitigated` (Azure accepts any case).
    pub exemption_category: Option<String>,
    pub expires_on: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Value>,
}

impl PolicyExemption {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("policy exemption", doc)
    }
}

// ----------------------------------------------------------------- metrics

/// An Azure Monitor `Metrics_List` response.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsResponse {
    pub timespan: Option<String>,
    pub interval: Option<String>,
    #[serde(default)]
    pub value: Vec<Metric>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: Option<LocalizedName>,
    pub unit: Option<String>,
    #[serde(default)]
    pub timeseries: Vec<TimeSeries>,
    /// Present when the metric could not be read (see `GetMetricError`).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalizedName {
    pub value: Option<String>,
    pub localized_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeSeries {
    #[serde(default)]
    pub metadatavalues: Vec<MetadataValue>,
    #[serde(default)]
    pub data: Vec<DataPoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MetadataValue {
    pub name: Option<LocalizedName>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataPoint {
    pub time_stamp: Option<String>,
    pub total: Option<f64>,
    pub average: Option<f64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub count: Option<f64>,
}

impl MetricsResponse {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("metrics response", doc)
    }
}

impl TimeSeries {
    /// The value of dimension `name` on this series (e.g. `ModelDeploymentName`).
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.metadatavalues
            .iter()
            .find(|m| m.name.as_ref().and_then(|n| n.value.as_deref()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|m| m.value.as_deref())
    }
}

/// A quota usage (`Usages_List`, `Accounts_ListUsages`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub name: Option<LocalizedName>,
    pub current_value: Option<f64>,
    pub limit: Option<f64>,
    pub unit: Option<String>,
    pub quota_period: Option<String>,
    pub status: Option<String>,
}

impl Usage {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("usage", doc)
    }
}

// --------------------------------------------------------------- resources

/// `Subscriptions_List` entries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: Option<String>,
    pub subscription_id: Option<String>,
    pub display_name: Option<String>,
    pub state: Option<String>,
    pub tenant_id: Option<String>,
}

impl Subscription {
    pub fn parse(doc: &Value) -> Result<Self, ShapeError> {
        view("subscription", doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_access_is_the_positive_of_disable_local_auth() {
        let with = |v: Value| Account::parse(&json!({"kind": "OpenAI", "properties": v})).unwrap();
        assert!(with(json!({})).key_access_enabled(), "absent disableLocalAuth: keys work");
        assert!(with(json!({"disableLocalAuth": false})).key_access_enabled());
        assert!(!with(json!({"disableLocalAuth": true})).key_access_enabled());
    }

    #[test]
    fn public_network_access_defaults_to_enabled() {
        let with = |v: Value| Account::parse(&json!({"properties": v})).unwrap();
        assert!(with(json!({})).public_network_access_enabled());
        assert!(with(json!({"publicNetworkAccess": "Enabled"})).public_network_access_enabled());
        assert!(!with(json!({"publicNetworkAccess": "Disabled"})).public_network_access_enabled());
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_by_its_path() {
        let doc = json!({"properties": {"contentFilters": [{"name": "Hate"}, {"name": "Sexual", "enabled": "yes"}]}});
        let err = RaiPolicy::parse(&doc).unwrap_err();
        assert_eq!(err.path, "properties.contentFilters[1].enabled", "{err}");
    }

    #[test]
    fn deployment_types_follow_the_sku_name() {
        let t = |sku: &str| Deployment::parse(&json!({"sku": {"name": sku}})).unwrap().deployment_type();
        assert_eq!(t("GlobalStandard"), DeploymentType::Global);
        assert_eq!(t("GlobalProvisionedManaged"), DeploymentType::Global);
        assert_eq!(t("DataZoneStandard"), DeploymentType::DataZone);
        assert_eq!(t("Standard"), DeploymentType::Regional);
        assert_eq!(t("ProvisionedManaged"), DeploymentType::Regional);
        assert_eq!(t("Mystery"), DeploymentType::Unknown);
    }
}
