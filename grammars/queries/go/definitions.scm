; Go: functions, methods (with receivers) and named struct/interface types.
(function_declaration
  name: (identifier) @name
  parameters: (parameter_list) @parameters) @definition.function

(method_declaration
  receiver: (parameter_list) @receiver
  name: (field_identifier) @name
  parameters: (parameter_list) @parameters) @definition.method

(type_spec
  name: (type_identifier) @name
  type: [(struct_type) (interface_type)] @body) @definition.type
