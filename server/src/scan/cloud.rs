//! Which Azure cloud to scan: its ARM endpoint, the token audience ARM
//! accepts there, and the Entra authority the credentials sign in to.

use anyhow::{bail, Context};
use azure_core::cloud::CloudConfiguration;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CloudName {
    Public,
    #[value(name = "usgov")]
    UsGovernment,
    China,
}

/// Where the scanner sends requests and what its token must be for.
#[derive(Debug, Clone)]
pub struct Cloud {
    pub name: CloudName,
    /// ARM's base URL, without a trailing slash.
    pub arm_endpoint: Url,
    /// The OAuth scope of ARM tokens, `<audience>/.default`.
    pub token_scope: String,
}

impl Cloud {
    /// `cloud`'s defaults, with the ARM endpoint (and audience) overridden
    /// for Azure Stack, private clouds, or the fake ARM.
    pub fn new(name: CloudName, arm_endpoint: Option<&str>, audience: Option<&str>) -> anyhow::Result<Cloud> {
        let (default_arm, default_audience) = match name {
            CloudName::Public => ("https://management.azure.com", "https://management.azure.com"),
            CloudName::UsGovernment => {
                ("https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net")
            }
            CloudName::China => ("https://management.chinacloudapi.cn", "https://management.core.chinacloudapi.cn"),
        };
        let arm = arm_endpoint.unwrap_or(default_arm).trim_end_matches('/');
        let url = base_url("--arm-endpoint", arm, "https://management.azure.com")?;
        // A custom endpoint's tokens are usually for the endpoint itself.
        let audience = audience.unwrap_or(if arm_endpoint.is_some() { arm } else { default_audience });
        Ok(Cloud { name, arm_endpoint: url, token_scope: format!("{}/.default", audience.trim_end_matches('/')) })
    }

    /// The authority the credentials sign in to (None: azure_identity's
    /// default, which honours AZURE_AUTHORITY_HOST).
    pub fn configuration(&self) -> Option<CloudConfiguration> {
        match self.name {
            CloudName::Public => None,
            CloudName::UsGovernment => Some(CloudConfiguration::AzureGovernment),
            CloudName::China => Some(CloudConfiguration::AzureChina),
        }
    }

    /// Microsoft Graph in this cloud (or at `endpoint`, such as the fake
    /// ARM's), and the scope of its tokens.
    pub fn graph(&self, endpoint: Option<&str>) -> anyhow::Result<(Url, String)> {
        let default = match self.name {
            CloudName::Public => "https://graph.microsoft.com",
            CloudName::UsGovernment => "https://graph.microsoft.us",
            CloudName::China => "https://microsoftgraph.chinacloudapi.cn",
        };
        let graph = endpoint.unwrap_or(default).trim_end_matches('/');
        let url = base_url("--graph-endpoint", graph, "https://graph.microsoft.com")?;
        Ok((url, format!("{graph}/.default")))
    }

    /// The endpoint as written in snapshots (no trailing slash).
    pub fn arm_base(&self) -> String {
        self.arm_endpoint.as_str().trim_end_matches('/').to_string()
    }
}

/// A base URL a bearer token may be sent to: https, or http to this machine
/// only (a token must never cross a network in clear text); no path.
fn base_url(flag: &str, value: &str, example: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value).with_context(|| format!("{flag} {value:?} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => bail!("{flag} must use https (http only to this machine), not {other}:"),
    }
    if url.path() != "/" || url.query().is_some() {
        bail!("{flag} is a base URL such as {example}, without a path or query");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_endpoint_and_audience() {
        let gov = Cloud::new(CloudName::UsGovernment, None, None).unwrap();
        assert_eq!(gov.arm_base(), "https://management.usgovcloudapi.net");
        assert_eq!(gov.token_scope, "https://management.core.usgovcloudapi.net/.default");
        let china = Cloud::new(CloudName::China, None, None).unwrap();
        assert_eq!(china.token_scope, "https://management.core.chinacloudapi.cn/.default");
        let public = Cloud::new(CloudName::Public, None, None).unwrap();
        assert_eq!(public.token_scope, "https://management.azure.com/.default");
        assert!(public.configuration().is_none());
        assert_eq!(public.graph(None).unwrap().1, "https://graph.microsoft.com/.default");
        assert_eq!(gov.graph(None).unwrap().0.as_str(), "https://graph.microsoft.us/");
        assert!(public.graph(Some("http://graph.contoso.example")).is_err());
    }

    #[test]
    fn a_custom_endpoint_is_its_own_audience_unless_told_otherwise() {
        let c = Cloud::new(CloudName::Public, Some("https://arm.contoso.example/"), None).unwrap();
        assert_eq!(c.arm_base(), "https://arm.contoso.example");
        assert_eq!(c.token_scope, "https://arm.contoso.example/.default");
        let c =
            Cloud::new(CloudName::Public, Some("https://arm.contoso.example"), Some("https://management.azure.com"))
                .unwrap();
        assert_eq!(c.token_scope, "https://management.azure.com/.default");
    }

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        assert!(Cloud::new(CloudName::Public, Some("http://arm.contoso.example"), None).is_err());
        assert!(Cloud::new(CloudName::Public, Some("http://127.0.0.1:4000"), None).is_ok());
        assert!(Cloud::new(CloudName::Public, Some("http://localhost:4000"), None).is_ok());
        assert!(Cloud::new(CloudName::Public, Some("https://x.example/sub/path"), None).is_err());
        assert!(Cloud::new(CloudName::Public, Some("not a url"), None).is_err());
    }
}
