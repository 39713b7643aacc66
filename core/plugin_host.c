/* plugin_host */
