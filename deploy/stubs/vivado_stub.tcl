# A stand-in for the Vivado Tcl commands riptide's generated scripts use, for
# checks without Vivado (riptide-deploy's tests). Usage:
#   tclsh vivado_stub.tcl ALLOWLIST.tcl LOG SCRIPT.tcl
# ALLOWLIST.tcl sets ::allowed (dict: IP name -> CONFIG keys). Each command
# appends its call to LOG; an unknown command or option, a wrong argument
# count, a CONFIG key off the IP's list, or opening a checkpoint that was
# never written is an error (exit 1). Files the real commands would write
# are created empty, so that make's dependencies behave.

lassign $argv allowlist_file ::log_file script
source $allowlist_file
set ::ips [dict create]

# command -> {flags options min max}: flags take no value, options one.
set ::spec {
    create_project      {{-force -in_memory} {-part} 1 2}
    set_property        {{-quiet} {-dict} 1 3}
    current_project     {{} {} 0 1}
    add_files           {{-norecurse} {-fileset} 1 1}
    current_fileset     {{} {} 0 1}
    create_ip           {{} {-name -vendor -library -module_name -version -dir} 0 0}
    get_ips             {{-quiet} {} 0 1}
    generate_target     {{} {} 2 2}
    close_project       {{} {} 0 0}
    open_project        {{} {} 1 1}
    synth_ip            {{} {} 1 1}
    synth_design        {{} {-top -part -directive} 0 0}
    write_checkpoint    {{-force} {} 1 1}
    open_checkpoint     {{} {} 1 1}
    report_utilization  {{-hierarchical} {-file} 0 0}
    report_design_analysis {{-logic_level_distribution} {-file} 0 0}
    report_timing_summary {{} {-file -max_paths} 0 0}
    opt_design          {{} {-directive} 0 0}
    place_design        {{} {-directive} 0 0}
    phys_opt_design     {{} {-directive} 0 0}
    route_design        {{} {-directive} 0 0}
    get_timing_paths    {{-setup -hold} {-max_paths -nworst} 0 0}
    get_property        {{-quiet} {} 2 2}
    write_bitstream     {{-force} {} 1 1}
    write_cfgmem        {{-force -checksum} {-format -size -interface -loadbit} 1 1}
    open_hw_manager     {{} {} 0 0}
    close_hw_manager    {{} {} 0 0}
    connect_hw_server   {{-allow_non_jtag} {-url} 0 0}
    open_hw_target      {{} {} 0 1}
    get_hw_devices      {{} {} 0 1}
    current_hw_device   {{} {} 0 1}
    program_hw_devices  {{} {} 0 1}
    create_hw_cfgmem    {{} {-hw_device} 1 1}
    get_cfgmem_parts    {{} {} 0 1}
    create_hw_bitstream {{} {-hw_device} 1 1}
    program_hw_cfgmem   {{} {-hw_cfgmem} 0 0}
}

proc record {command arguments} {
    set out [open $::log_file a]
    puts $out [list $command {*}$arguments]
    close $out
}

# Splits a call's arguments into options (a dict) and positionals, per spec.
proc parse {command arguments} {
    lassign [dict get $::spec $command] flags options min max
    set opts [dict create]
    set positional {}
    for {set i 0} {$i < [llength $arguments]} {incr i} {
        set word [lindex $arguments $i]
        if {[string index $word 0] eq "-" && ![string is double -strict $word]} {
            if {$word in $flags} {
                dict set opts $word 1
            } elseif {$word in $options} {
                incr i
                if {$i >= [llength $arguments]} {
                    error "stub vivado: $command $word needs a value"
                }
                dict set opts $word [lindex $arguments $i]
            } else {
                error "stub vivado: $command has no option $word"
            }
        } else {
            lappend positional $word
        }
    }
    if {[llength $positional] < $min || [llength $positional] > $max} {
        error "stub vivado: $command takes $min..$max arguments, got [llength $positional]: $positional"
    }
    return [list $opts $positional]
}

proc check_config {key ip} {
    if {![string match CONFIG.* $key]} {
        return
    }
    if {![dict exists $::ips $ip]} {
        error "stub vivado: CONFIG on $ip, which create_ip never made"
    }
    set name [dict get $::ips $ip]
    set bare [string range $key 7 end]
    if {$bare ni [dict get $::allowed $name]} {
        error "stub vivado: $name has no CONFIG key $bare (ip/allowlist.toml)"
    }
}

proc touch {path} {
    file mkdir [file dirname $path]
    close [open $path w]
}

foreach command [dict keys $::spec] {
    proc $command {args} [string map [list @C@ $command] {
        record @C@ $args
        lassign [parse @C@ $args] opts positional
        return [stub_@C@ $opts $positional]
    }]
    proc stub_$command {opts positional} {return ""}
}

proc stub_create_project {opts positional} {
    lassign $positional name dir
    touch [file join $dir $name.xpr]
}
proc stub_open_project {opts positional} {
    if {![file exists [lindex $positional 0]]} {
        error "stub vivado: no project [lindex $positional 0]"
    }
}
proc stub_create_ip {opts positional} {
    foreach needed {-name -vendor -library -module_name} {
        if {![dict exists $opts $needed]} {
            error "stub vivado: create_ip without $needed"
        }
    }
    set name [dict get $opts -name]
    if {![dict exists $::allowed $name]} {
        error "stub vivado: IP $name has no allow-list"
    }
    dict set ::ips [dict get $opts -module_name] $name
}
proc stub_get_ips {opts positional} {
    if {[llength $positional] == 0} {
        return [dict keys $::ips]
    }
    set ip [lindex $positional 0]
    if {![dict exists $::ips $ip]} {
        error "stub vivado: get_ips $ip: no such IP"
    }
    return $ip
}
proc stub_set_property {opts positional} {
    if {[dict exists $opts -dict]} {
        if {[llength $positional] != 1} {
            error "stub vivado: set_property -dict takes one object list"
        }
        foreach {key value} [dict get $opts -dict] {
            foreach ip [lindex $positional 0] {
                check_config $key $ip
            }
        }
    } else {
        if {[llength $positional] != 3} {
            error "stub vivado: set_property takes name value objects"
        }
        lassign $positional key value objects
        foreach ip $objects {
            check_config $key $ip
        }
    }
}
proc stub_write_checkpoint {opts positional} {touch [lindex $positional 0]}
proc stub_write_bitstream {opts positional} {touch [lindex $positional 0]}
proc stub_open_checkpoint {opts positional} {
    if {![file exists [lindex $positional 0]]} {
        error "stub vivado: no checkpoint [lindex $positional 0]"
    }
}
proc stub_write_cfgmem {opts positional} {
    foreach needed {-format -size -interface -loadbit} {
        if {![dict exists $opts $needed]} {
            error "stub vivado: write_cfgmem without $needed"
        }
    }
    lassign [dict get $opts -loadbit] direction offset bitfile
    if {$direction ne "up" || ![string is wideinteger -strict $offset] || ![file exists $bitfile]} {
        error "stub vivado: -loadbit wants {up OFFSET existing.bit}, got [dict get $opts -loadbit]"
    }
    touch [lindex $positional 0]
}
proc stub_get_timing_paths {opts positional} {return timing_path_0}
proc stub_get_hw_devices {opts positional} {return hw_device_0}
proc stub_get_cfgmem_parts {opts positional} {return [lindex $positional 0]}
proc stub_get_property {opts positional} {
    lassign $positional name object
    switch -- $name {
        SLACK {
            if {[info exists ::env(STUB_WNS)]} {return $::env(STUB_WNS)}
            return 0.125
        }
        PROGRAM.HW_CFGMEM {return hw_cfgmem_0}
        PROGRAM.HW_CFGMEM_BITFILE {return hw_cfgmem_bitfile_0}
        default {error "stub vivado: get_property $name is not modelled"}
    }
}

# Anything else Vivado would have is not used by riptide's scripts: fail.
proc unknown {args} {
    error "stub vivado: unknown command [lindex $args 0]"
}

if {[catch {source $script} message]} {
    puts stderr "ERROR: $message"
    exit 1
}
exit 0
