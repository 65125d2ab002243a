# الرسائل النصية وإشعارات الموظفين. ليست تسجيلات صوتية.
notify-ticket-created = 940: تم تسجيل بلاغك برقم { $ticket }. لمتابعته اتصل على 940 واضغط 2.
notify-status-changed = 940: حالة البلاغ رقم { $ticket } الآن: { $status ->
        [received] تم الاستلام
        [in_progress] قيد المعالجة
        [escalated] أُحيل إلى المشرف
        [resolved] تم الحل
       *[closed] مغلق
    }.{ $note }
notify-staff-created = بلاغ جديد { $ticket }: { $category }، الحي { $district }، المتصل { $caller } ({ $language }).
