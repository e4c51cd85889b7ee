# Sourced by bench-proxy.sh and bench-relay-cpu.sh: the loopback nginx origin and the nginx
# reverse proxy they measure Sokoul against, configured the same way in both.

# start_nginx_pair ORIGIN_DIR PROXY_DIR WWW ORIGIN_PORT PROXY_PORT
start_nginx_pair() {
    local origin_dir=$1 proxy_dir=$2 www=$3 origin_port=$4 proxy_port=$5
    nginx_conf "$origin_dir" "server { listen 127.0.0.1:$origin_port; root $www; }"
    # The reverse proxy streams (no spooling to temp files) over kept-alive upstream connections.
    nginx_conf "$proxy_dir" "upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
    server { listen 127.0.0.1:$proxy_port;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\";
                     proxy_buffers 16 64k; proxy_max_temp_file_size 0; } }"
    nginx -c "$origin_dir/nginx.conf" -p "$origin_dir" 2>/dev/null
    nginx -c "$proxy_dir/nginx.conf" -p "$proxy_dir" 2>/dev/null
}

nginx_conf() { # $1 dir, $2 server block
    cat > "$1/nginx.conf" <<EOF
worker_processes 2;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
    $2
}
EOF
}
