//! The route table: every authenticated route, the roles that may call it (the permission
//! matrix of `docs/security.md`), its parameters and what it answers. The `Auth` extractor
//! checks roles against it and `/openapi.json` is generated from it, so the two cannot drift.

use portrait_privacy::Role;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Path,
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub at: In,
    pub required: bool,
    pub description: &'static str,
}

/// A JSON request body: its fields (name, type, required, description).
#[derive(Debug)]
pub struct BodySpec {
    pub fields: &'static [(&'static str, &'static str, bool, &'static str)],
}

#[derive(Debug)]
pub struct RouteSpec {
    pub method: &'static str,
    /// The axum path (`{name}` for path parameters, as OpenAPI writes them too).
    pub path: &'static str,
    /// The action name in the audit log.
    pub action: &'static str,
    pub roles: &'static [Role],
    pub summary: &'static str,
    pub params: &'static [Param],
    pub body: Option<BodySpec>,
    /// `application/json` or `text/csv`.
    pub produces: &'static str,
}

const EVERYONE: &[Role] = &[Role::Admin, Role::Analyst, Role::Marketer, Role::Auditor];
/// Reads of aggregates, segments, tags, audiences and masked customer views.
const READERS: &[Role] = &[Role::Admin, Role::Analyst, Role::Marketer];
/// Data-quality reports.
const ANALYSTS: &[Role] = &[Role::Admin, Role::Analyst];
/// Writes and exports for campaigns.
const CAMPAIGNERS: &[Role] = &[Role::Admin, Role::Marketer];
/// Users, tokens and erasure: administrators only.
const ADMINS: &[Role] = &[Role::Admin];
/// The audit log: auditors only (separation of duties: admins do not read their own trail).
const AUDITORS: &[Role] = &[Role::Auditor];

const EXPR: Param = Param {
    name: "expr",
    at: In::Query,
    required: true,
    description: "audience expression, e.g. `gender:female AND interest:red_wine`",
};

const JSON: &str = "application/json";

pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "GET",
        path: "/openapi.json",
        action: "openapi",
        roles: EVERYONE,
        summary: "This OpenAPI document",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/me",
        action: "me",
        roles: EVERYONE,
        summary: "The caller's user name, role and the routes the role may call",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/overview",
        action: "overview",
        roles: READERS,
        summary: "Parties, customers, households, recency classes and asset tiers",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/distributions",
        action: "distributions",
        roles: READERS,
        summary: "Parties by age group, province, gender, channel, recency class, asset tier and life stage",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/rfm",
        action: "rfm",
        roles: READERS,
        summary: "RFM matrix: parties per recency score × frequency score, and per RFM class",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/retention",
        action: "retention",
        roles: READERS,
        summary: "Retention groups and recency classes with size, CLV and churn probability",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/segments",
        action: "segments",
        roles: READERS,
        summary: "Segments of every segmentation model with their personas",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/tags",
        action: "tags",
        roles: READERS,
        summary: "The tag catalogue with the parties holding each value",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/audience/count",
        action: "audience.count",
        roles: READERS,
        summary: "Size of an audience",
        params: &[EXPR],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/audience/breakdown",
        action: "audience.breakdown",
        roles: READERS,
        summary: "An audience split by the values of a tag, against the population",
        params: &[
            EXPR,
            Param {
                name: "by",
                at: In::Query,
                required: true,
                description: "tag to split by, e.g. `gender`",
            },
        ],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/audience/portrait",
        action: "audience.portrait",
        roles: READERS,
        summary: "人群画像: the tag values over-represented in an audience against the population (lift, chi-square p below 0.05, at most 25; none for an audience under 10 parties)",
        params: &[EXPR],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/tags/affinity",
        action: "tags.affinity",
        roles: READERS,
        summary: "标签关联: the tag values most over-represented among the parties of an expression (both, support, confidence, lift; tags named in the expression left out; at most 30, each of at least 10 parties; none for an audience under 10)",
        params: &[
            EXPR,
            Param {
                name: "min_support",
                at: In::Query,
                required: false,
                description: "smallest share of all parties holding both, 0 to 1 (default 0)",
            },
        ],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/audiences",
        action: "audience.list",
        roles: READERS,
        summary: "Saved audiences",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/audience/save",
        action: "audience.save",
        roles: CAMPAIGNERS,
        summary: "Save (or replace) an audience: its expression and today's members",
        params: &[],
        body: Some(BodySpec {
            fields: &[
                ("name", "string", true, "audience name"),
                ("expr", "string", true, "audience expression"),
            ],
        }),
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/audience/lookalike",
        action: "audience.lookalike",
        roles: READERS,
        summary: "相似人群扩展: the parties most like a seed audience that are not in it, best first, with a score and the features that make each similar, and the held-out check that chose the method (at most 100,000; the first 1,000 listed)",
        params: &[],
        body: Some(BodySpec {
            fields: &[
                ("seed", "string", true, "the seed audience's expression"),
                ("size", "integer", true, "parties wanted, 1 to 100,000"),
                (
                    "exclude",
                    "string",
                    false,
                    "parties never returned, as an expression",
                ),
                (
                    "method",
                    "string",
                    false,
                    "`auto` (default), `centroid` or `classifier`",
                ),
                (
                    "save",
                    "string",
                    false,
                    "save under this name (admins and marketers)",
                ),
            ],
        }),
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/audience/export",
        action: "audience.export",
        roles: CAMPAIGNERS,
        summary: "CSV or Excel workbook of an audience's consenting parties, masked, each row watermarked with the export id of the audit log",
        params: &[],
        body: Some(BodySpec {
            fields: &[
                ("expr", "string", true, "audience expression"),
                (
                    "include_no_consent",
                    "boolean",
                    false,
                    "also parties without marketing consent (service notices); default false",
                ),
                ("format", "string", false, "`csv` (default) or `xlsx`"),
                (
                    "lang",
                    "string",
                    false,
                    "`en` (default) or `zh`: the workbook's headers and description sheet",
                ),
            ],
        }),
        produces: "text/csv|application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    },
    RouteSpec {
        method: "GET",
        path: "/api/customers",
        action: "customer.search",
        roles: READERS,
        summary: "Find parties by party id, customer number or name prefix (masked by role)",
        params: &[
            Param {
                name: "q",
                at: In::Query,
                required: true,
                description: "party id, customer number or the start of a name",
            },
            Param {
                name: "limit",
                at: In::Query,
                required: false,
                description: "most results, 1 to 100 (default 20)",
            },
        ],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/customers/{party_id}",
        action: "customer.view",
        roles: READERS,
        summary: "Customer 360: golden record, member customer numbers, features, tags, segments, recommendations and links (masked by role)",
        params: &[Param {
            name: "party_id",
            at: In::Path,
            required: true,
            description: "party id, e.g. `P0000000001`",
        }],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/coverage",
        action: "coverage",
        roles: ANALYSTS,
        summary: "Data coverage (满足度): share of valid values per attribute",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/audit",
        action: "audit.read",
        roles: AUDITORS,
        summary: "The audit log, newest first",
        params: &[
            Param {
                name: "user",
                at: In::Query,
                required: false,
                description: "only this user's records",
            },
            Param {
                name: "action",
                at: In::Query,
                required: false,
                description: "only this action, e.g. `audience.export`",
            },
            Param {
                name: "export_id",
                at: In::Query,
                required: false,
                description: "the record of one export (the watermark of its file)",
            },
            Param {
                name: "limit",
                at: In::Query,
                required: false,
                description: "most records, 1 to 1000 (default 100)",
            },
        ],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "GET",
        path: "/api/users",
        action: "users.list",
        roles: ADMINS,
        summary: "Users with their role and live tokens",
        params: &[],
        body: None,
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/users/revoke",
        action: "users.revoke",
        roles: ADMINS,
        summary: "Revoke every token of a user: refused by this server at once, by others within 5 s",
        params: &[],
        body: Some(BodySpec {
            fields: &[("name", "string", true, "user name")],
        }),
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/users/rotate",
        action: "users.rotate",
        roles: ADMINS,
        summary: "Revoke a user's tokens and make a new one, answered this once",
        params: &[],
        body: Some(BodySpec {
            fields: &[
                ("name", "string", true, "user name"),
                (
                    "expires",
                    "string",
                    false,
                    "when the new token stops working: `90d` or `2027-03-31`; default never",
                ),
            ],
        }),
        produces: JSON,
    },
    RouteSpec {
        method: "POST",
        path: "/api/erase",
        action: "erase",
        roles: ADMINS,
        summary: "Erase a customer number from every table of the store (right to erasure), then rebuild the derived tables",
        params: &[],
        body: Some(BodySpec {
            fields: &[
                ("cust_no", "string", true, "the customer number to erase"),
                (
                    "reason",
                    "string",
                    true,
                    "the request's reference, for the audit log",
                ),
            ],
        }),
        produces: JSON,
    },
];

/// The route of a method and matched path.
pub fn find(method: &str, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}
