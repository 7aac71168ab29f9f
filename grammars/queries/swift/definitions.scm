; Swift: classes, structs, enums, extensions (as scopes), protocols, functions and initialisers.
(class_declaration name: (type_identifier) @name) @definition.class
(class_declaration name: (user_type) @name) @scope
(protocol_declaration name: (type_identifier) @name) @definition.type

(function_declaration
  name: (simple_identifier) @name
  (parameter)* @parameter
  body: (function_body) @body) @definition.function

(init_declaration
  name: "init" @name
  (parameter)* @parameter) @definition.function
