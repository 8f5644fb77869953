fn main() {
    eprintln!("ob-event-store: skeleton");
}
