//! The result object's schema per observable type, for the documentation only.
//!
//! One Rust type ([`ResultBody`]) renders every result; its derived schema lists every field
//! any result may carry. The schemas here narrow it per type, so a client generated from the
//! OpenAPI document (or a reader) sees which block each `type` brings: `IpResult` (geo,
//! network), `DomainResult` (`domain`), `UrlResult` (`url`), `FileResult` (`file`), and
//! `UntypedResult` for input that parsed as no type (`type` null, status `invalid`).
//! [`AnyResult`] is their `oneOf`, discriminated by `type`.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AllOfBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::ResultBody;

/// Statuses a typed result can have (only untyped input is `invalid`).
const TYPED_STATUSES: [&str; 5] = ["ok", "not_found", "not_routable", "deferred", "error"];

/// One type's narrowing of [`ResultBody`]: its `type` value, and the blocks only it carries.
struct Variant {
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    /// Property and the schema component it refers to (nullable: present for `ok` only).
    blocks: &'static [(&'static str, &'static str)],
}

const VARIANTS: [Variant; 4] = [
    Variant {
        name: "IpResult",
        kind: "ip",
        description: "The result for an IP address: `geo` and `network` (status `ok`).",
        blocks: &[("geo", "Geo"), ("network", "Network")],
    },
    Variant {
        name: "DomainResult",
        kind: "domain",
        description: "The result for a domain: `domain` (status `ok`); `geo` and `network` null.",
        blocks: &[("domain", "DomainBody")],
    },
    Variant {
        name: "UrlResult",
        kind: "url",
        description: "The result for a URL: `url` (status `ok`); `geo` and `network` null.",
        blocks: &[("url", "UrlBody")],
    },
    Variant {
        name: "FileResult",
        kind: "file",
        description: "The result for a file hash: `file` (status `ok`); `geo` and `network` null.",
        blocks: &[("file", "FileBody")],
    },
];

fn variant(name: &str) -> &'static Variant {
    VARIANTS
        .iter()
        .find(|v| v.name == name)
        .expect("a listed variant")
}

fn nullable_ref(component: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(Ref::from_schema_name(component))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().collect::<Vec<_>>()))
}

fn typed_schema(v: &Variant) -> RefOr<Schema> {
    let mut narrowing = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("type", string_enum([v.kind]))
        .property("status", string_enum(TYPED_STATUSES))
        .required("type");
    for (property, component) in v.blocks {
        narrowing = narrowing.property(*property, nullable_ref(component));
    }
    AllOfBuilder::new()
        .description(Some(v.description))
        .item(Ref::from_schema_name(ResultBody::name()))
        .item(narrowing)
        .into()
}

fn untyped_schema() -> RefOr<Schema> {
    AllOfBuilder::new()
        .description(Some(
            "The result for input that parsed as no observable type: `type` null, status \
             `invalid`, the reason in `error.message`.",
        ))
        .item(Ref::from_schema_name(ResultBody::name()))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("type", ObjectBuilder::new().schema_type(Type::Null))
                .property("status", string_enum(["invalid"]))
                .required("type"),
        )
        .into()
}

/// Adds [`ResultBody`] and what it refers to.
fn result_body(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((ResultBody::name().into_owned(), ResultBody::schema()));
    ResultBody::schemas(schemas);
}

macro_rules! typed_result {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                typed_schema(variant(stringify!($name)))
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                result_body(schemas);
            }
        }
    };
}

typed_result!(
    /// The result for an IP address (documentation only).
    IpResult
);
typed_result!(
    /// The result for a domain (documentation only).
    DomainResult
);
typed_result!(
    /// The result for a URL (documentation only).
    UrlResult
);
typed_result!(
    /// The result for a file hash (documentation only).
    FileResult
);

/// The result for input of no type (documentation only).
pub struct UntypedResult;

impl PartialSchema for UntypedResult {
    fn schema() -> RefOr<Schema> {
        untyped_schema()
    }
}

impl ToSchema for UntypedResult {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("UntypedResult")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        result_body(schemas);
    }
}

/// Any result: `oneOf` the typed results, discriminated by `type` (documentation only).
pub struct AnyResult;

impl PartialSchema for AnyResult {
    fn schema() -> RefOr<Schema> {
        let mut discriminator = Discriminator::new("type");
        let mut one_of = OneOfBuilder::new().description(Some(
            "One result object; `type` says which block it carries (null: the input parsed as \
             no type).",
        ));
        for v in &VARIANTS {
            discriminator.mapping.insert(
                v.kind.to_owned(),
                format!("#/components/schemas/{}", v.name),
            );
            one_of = one_of.item(Ref::from_schema_name(v.name));
        }
        one_of
            .item(Ref::from_schema_name(UntypedResult::name()))
            .discriminator(Some(discriminator))
            .into()
    }
}

impl ToSchema for AnyResult {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AnyResult")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for v in &VARIANTS {
            schemas.push((v.name.to_owned(), typed_schema(v)));
        }
        schemas.push((UntypedResult::name().into_owned(), untyped_schema()));
        result_body(schemas);
    }
}
