; Rust: functions (methods inside impl or trait), structs, enums, traits.
(function_item
  name: (identifier) @name
  parameters: (parameters) @parameters) @definition.function

(function_signature_item
  name: (identifier) @name
  parameters: (parameters) @parameters) @definition.function

(struct_item name: (type_identifier) @name) @definition.type
(enum_item name: (type_identifier) @name) @definition.type
(trait_item name: (type_identifier) @name body: (declaration_list) @body) @definition.type

(impl_item type: (_) @name body: (declaration_list) @body) @scope
