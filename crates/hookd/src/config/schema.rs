//! OpenAPI schemas of the value types of the raw configuration, so that the documented
//! body of each configuration object (`ToSchema` on the raw types) says what the file
//! takes: a duration or size written as text, one string or a list of them; and the
//! schemas of the objects themselves, by the names the API uses.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::raw::{ByteSizeValue, HumanDuration, RawDestination, RawQueue, RawRoute, RawSource};

fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

impl PartialSchema for HumanDuration {
    fn schema() -> RefOr<Schema> {
        text(r#"A duration such as "250ms", "30s", "5m", "24h" or "1h 30m"."#).into()
    }
}

impl ToSchema for HumanDuration {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Duration")
    }
}

impl PartialSchema for ByteSizeValue {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                r#"A size: a number of bytes, or text with a unit such as "512KiB" or "1MiB"."#,
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .item(ObjectBuilder::new().schema_type(Type::String))
            .into()
    }
}

impl ToSchema for ByteSizeValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ByteSize")
    }
}

/// A key that takes one of a few names, documented with them.
macro_rules! names {
    ($(#[$doc:meta])* $marker:ident = $names:expr) => {
        $(#[$doc])*
        pub(crate) struct $marker;

        impl PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some($names))
                    .into()
            }
        }

        impl ToSchema for $marker {}
    };
}

names!(
    /// `preset`: the name of a preset.
    PresetName = super::presets::KNOWN_PRESETS
);
names!(
    /// `encoding` of a signature.
    EncodingName = ["hex", "base64"]
);
names!(
    /// `format` of a source's bodies.
    FormatName = ["json", "raw"]
);
names!(
    /// `jitter` of a back-off.
    JitterName = ["full", "none"]
);

/// One string, or a list of them: how a `OneOrMany<String>` key is documented.
pub(crate) struct StringOrList;

impl PartialSchema for StringOrList {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some("One string, or a list of them."))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .into()
    }
}

impl ToSchema for StringOrList {}

/// The schema of a configuration object as the API takes it: the raw type's, without
/// the `default: null` the derive gives every key of a `#[serde(default)]` table (the
/// real defaults are in each key's description).
macro_rules! object_schema {
    ($(#[$doc:meta])* $marker:ident = $raw:ty, $name:literal) => {
        $(#[$doc])*
        pub(crate) struct $marker;

        impl PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                without_defaults(<$raw as PartialSchema>::schema())
            }
        }

        impl ToSchema for $marker {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                let mut nested = Vec::new();
                <$raw as ToSchema>::schemas(&mut nested);
                schemas.extend(nested.into_iter().map(|(name, s)| (name, without_defaults(s))));
            }
        }
    };
}

object_schema!(
    /// `[sources.NAME]`, as the API takes it.
    SourceSchema = RawSource,
    "Source"
);
object_schema!(
    /// `[[routes]]`, as the API takes it.
    RouteSchema = RawRoute,
    "Route"
);
object_schema!(
    /// `[queues.NAME]`, as the API takes it.
    QueueSchema = RawQueue,
    "Queue"
);
object_schema!(
    /// `[destinations.NAME]`, as the API takes it.
    DestinationSchema = RawDestination,
    "Destination"
);

/// `schema` without any `default`, at any depth.
fn without_defaults(mut schema: RefOr<Schema>) -> RefOr<Schema> {
    strip_defaults(&mut schema);
    schema
}

fn strip_defaults(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            object.default = None;
            object.properties.values_mut().for_each(strip_defaults);
        }
        Schema::Array(array) => {
            array.default = None;
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                strip_defaults(items);
            }
        }
        Schema::OneOf(one_of) => {
            one_of.default = None;
            one_of.items.iter_mut().for_each(strip_defaults);
        }
        Schema::AllOf(all_of) => {
            all_of.default = None;
            all_of.items.iter_mut().for_each(strip_defaults);
        }
        Schema::AnyOf(any_of) => {
            any_of.default = None;
            any_of.items.iter_mut().for_each(strip_defaults);
        }
        _ => {}
    }
}
