; Swift (parameters are direct children of the declaration, read in code): classes, structs, enums, extensions (as scopes), protocols, functions and initialisers.
(class_declaration name: (type_identifier) @name) @definition.class
(class_declaration name: (user_type) @name) @scope
(protocol_declaration name: (type_identifier) @name) @definition.type

(function_declaration
  name: (simple_identifier) @name
  body: (function_body) @body) @definition.function

(init_declaration
  name: "init" @name) @definition.function
