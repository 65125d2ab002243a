# Text messages (SMS) and staff notices. Not prompts: no audio.
notify-ticket-created = 940: your complaint is registered as ticket { $ticket }. To follow it, call 940 and press 2.
notify-status-changed = 940: ticket { $ticket } is now { $status ->
        [received] received
        [in_progress] in progress
        [escalated] escalated to a supervisor
        [resolved] resolved
       *[closed] closed
    }.{ $note }
notify-staff-created = New complaint { $ticket }: { $category }, district { $district }, caller { $caller } ({ $language }).
