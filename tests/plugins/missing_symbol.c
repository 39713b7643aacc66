/* A shared object that is not a Callixo plugin: no cx_plugin_entry. */
__attribute__((visibility("default"))) int not_a_plugin = 42;
