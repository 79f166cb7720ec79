//! Helpers over the admin API: ids from its lists, the audit log's actions.

use super::Client;

/// The id of the item of an admin list (`/api/v1/admin/users`, `…/devices`) whose `key` is
/// `value`.
pub fn admin_id(admin: &Client, list: &str, key: &str, value: &str) -> i64 {
    let (_, items) = admin.get(&format!("/api/v1/admin/{list}"));
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[key] == value)
        .unwrap_or_else(|| panic!("no {list} with {key} {value}: {items}"))["id"]
        .as_i64()
        .unwrap()
}

/// The action codes of the audit entries a query returns, newest first.
pub fn audit_actions(admin: &Client, query: &str) -> Vec<String> {
    let (_, log) = admin.get(&format!("/api/v1/admin/audit?{query}"));
    log.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}
