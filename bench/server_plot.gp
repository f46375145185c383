# Plot of bench/server_run.sh: requests per second and server CPU per tools/call echo, ours
# beside the peer servers. Run in the results directory (reads server.dat, writes server.png).
set terminal pngcairo noenhanced size 1600,660 font "sans,11"
set output "server.png"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set key below horizontal
set xtics nomirror scale 0
set ytics nomirror
set bmargin 6
set multiplot layout 1,2 title "mcp-cpp's server vs the TypeScript SDK servers (v1, v2) and Mastra's MCPServer: tools/call echo (bench/server_run.sh; figures and conditions in results.md)\nHTTP N: wrk, N keep-alive connections (TS v1: stateless); sessions N: legacy sessions, N connections; stdio N: N calls in flight. No bar: not served." font "sans,11"
set title "Requests per second (log scale; higher is better)"
set ylabel "req/s"
set yrange [10:*]
plot "server.dat" index 0 using 2:xtic(1) title "mcp-cpp (ours)" lc rgb "#2a9d8f", \
     "" index 0 using 3 title "TS SDK v1" lc rgb "#e9c46a", \
     "" index 0 using 4 title "TS SDK v2" lc rgb "#f4a261", \
     "" index 0 using 5 title "Mastra" lc rgb "#e76f51", \
     "" index 0 using ($0-0.3):2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0-0.1):3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0+0.1):4:(sprintf("%.0f", $4)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0+0.3):5:(sprintf("%.0f", $5)) with labels offset 0,0.7 font "sans,9" notitle
set title "Server CPU per call (user+sys, us; log scale; lower is better)"
set ylabel "us per call"
set yrange [1:*]
plot "server.dat" index 1 using 2:xtic(1) title "mcp-cpp (ours)" lc rgb "#2a9d8f", \
     "" index 1 using 3 title "TS SDK v1" lc rgb "#e9c46a", \
     "" index 1 using 4 title "TS SDK v2" lc rgb "#f4a261", \
     "" index 1 using 5 title "Mastra" lc rgb "#e76f51", \
     "" index 1 using ($0-0.3):2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0-0.1):3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0+0.1):4:(sprintf("%.0f", $4)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0+0.3):5:(sprintf("%.0f", $5)) with labels offset 0,0.7 font "sans,9" notitle
unset multiplot
