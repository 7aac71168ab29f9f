; Java: classes, records, interfaces, enums, methods and constructors.
(class_declaration name: (identifier) @name body: (class_body) @body) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name body: (interface_body) @body) @definition.type
(enum_declaration name: (identifier) @name body: (enum_body) @body) @definition.type

(method_declaration
  name: (identifier) @name
  parameters: (formal_parameters) @parameters) @definition.method

(constructor_declaration
  name: (identifier) @name
  parameters: (formal_parameters) @parameters) @definition.method
