/* http_routes */
