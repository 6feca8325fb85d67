//! The eframe shell. A minimal window until the full window lands.

/// Opens the window on the database at `db_path`.
pub fn run_window(db_path: std::path::PathBuf, clerk: String) -> Result<(), String> {
    let desk = crate::desk::Desk::open(&db_path, &clerk).map_err(|err| err.sentence())?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1200.0, 760.0])
            .with_title("Token Desk"),
        ..Default::default()
    };
    eframe::run_native(
        "Token Desk",
        options,
        Box::new(|_cc| Ok(Box::new(Shell { desk }))),
    )
    .map_err(|err| format!("the window could not be opened: {err}"))
}

struct Shell {
    desk: crate::desk::Desk,
}

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("Token Desk");
            ui.label(format!("Database: {}", self.desk.path().display()));
        });
    }
}
